/* CPython face of the dataplane: argument parsing, dicts, exceptions. The
 * GIL is released while waiting for the dataplane lock. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "ctrl.h"
#include "dp.h"

static PyObject *MemifError;

typedef struct {
    PyObject_HEAD dp_t *dp;
} DpObject;

#define LOCK(o)                          \
    Py_BEGIN_ALLOW_THREADS;              \
    pthread_mutex_lock(&(o)->dp->lock);  \
    Py_END_ALLOW_THREADS
#define UNLOCK(o) pthread_mutex_unlock(&(o)->dp->lock)

static int check_open(DpObject *self) {
    if (!self->dp) {
        PyErr_SetString(MemifError, "dataplane is closed");
        return -1;
    }
    return 0;
}

static PyObject *fail(const char *err) {
    PyErr_SetString(MemifError, err[0] ? err : "dataplane error");
    return NULL;
}

static int Dp_init(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"app_name", NULL};
    const char *name = "memif-agent";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s", kwlist, &name)) return -1;
    char err[256] = "";
    if (self->dp) return 0;
    self->dp = dp_new(name, err, sizeof(err));
    if (!self->dp) {
        PyErr_SetString(MemifError, err);
        return -1;
    }
    return 0;
}

static void Dp_dealloc(DpObject *self) {
    if (self->dp) {
        dp_t *dp = self->dp;
        self->dp = NULL;
        Py_BEGIN_ALLOW_THREADS;
        dp_free(dp);
        Py_END_ALLOW_THREADS;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Dp_close(DpObject *self, PyObject *unused) {
    if (self->dp) {
        dp_t *dp = self->dp;
        self->dp = NULL;
        Py_BEGIN_ALLOW_THREADS;
        dp_free(dp);
        Py_END_ALLOW_THREADS;
    }
    Py_RETURN_NONE;
}

static PyObject *Dp_fileno(DpObject *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    return PyLong_FromLong(self->dp->event_fd);
}

static PyObject *Dp_events(DpObject *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    uint64_t v;
    LOCK(self);
    if (read(self->dp->event_fd, &v, sizeof(v)) < 0) {}
    int n = self->dp->n_events;
    struct dp_event *copy = NULL;
    if (n) {
        copy = malloc((size_t)n * sizeof(*copy));
        if (copy) memcpy(copy, self->dp->events, (size_t)n * sizeof(*copy));
        self->dp->n_events = 0;
    }
    UNLOCK(self);
    PyObject *list = PyList_New(0);
    for (int k = 0; copy && k < n; k++) {
        char name[48];
        snprintf(name, sizeof(name), "memif%u/%u", copy[k].sid, copy[k].id);
        PyObject *d = Py_BuildValue("{s:s,s:I,s:I,s:s,s:O,s:s}", "type", "link", "socket_id",
                                    copy[k].sid, "id", copy[k].id, "name", name, "up",
                                    copy[k].up ? Py_True : Py_False, "reason", copy[k].reason);
        PyList_Append(list, d);
        Py_DECREF(d);
    }
    free(copy);
    return list;
}

static PyObject *Dp_add_socket(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"socket_id", "filename", "owner", "group", "perm", NULL};
    unsigned int sid;
    const char *path;
    PyObject *owner = Py_None, *group = Py_None, *perm = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Is|$OOO", kwlist, &sid, &path, &owner, &group,
                                     &perm))
        return NULL;
    if (check_open(self)) return NULL;
    long uid = -1, gid = -1, mode = -1;
    if (owner != Py_None && (uid = PyLong_AsLong(owner)) < 0) return PyErr_Occurred() ? NULL : fail("owner must be a uid");
    if (group != Py_None && (gid = PyLong_AsLong(group)) < 0) return PyErr_Occurred() ? NULL : fail("group must be a gid");
    if (perm != Py_None && ((mode = PyLong_AsLong(perm)) < 0 || mode > 07777))
        return PyErr_Occurred() ? NULL : fail("perm must be a file mode such as 0o660");
    char err[256] = "";
    LOCK(self);
    int r = dp_add_socket(self->dp, sid, path, (int)mode, uid, gid, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_remove_socket(DpObject *self, PyObject *args) {
    unsigned int sid;
    if (!PyArg_ParseTuple(args, "I", &sid) || check_open(self)) return NULL;
    char err[256] = "";
    LOCK(self);
    int r = dp_remove_socket(self->dp, sid, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_add_interface(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"socket_id", "if_id", "role", "mode", "ring_size_log2",
                             "buffer_size", "rx_queues", "tx_queues", "secret", "mac",
                             "enabled", "rx_mode", NULL};
    unsigned int sid, id, log2 = 10, bsize = 2048, rxq = 1, txq = 1;
    const char *role = "server", *mode = "ethernet", *secret = NULL, *mac = NULL;
    int enabled = 0;
    const char *rx_mode = "drop";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "II|$ssIIIIzzps", kwlist, &sid, &id, &role, &mode,
                                     &log2, &bsize, &rxq, &txq, &secret, &mac, &enabled, &rx_mode))
        return NULL;
    if (check_open(self)) return NULL;
    itf_t t;
    memset(&t, 0, sizeof(t));
    t.sid = sid;
    t.id = id;
    if (!strcmp(role, "server")) t.role = ROLE_SERVER;
    else if (!strcmp(role, "client")) t.role = ROLE_CLIENT;
    else return fail("role must be server or client");
    if (!strcmp(mode, "ethernet")) t.mode = MODE_ETHERNET;
    else if (!strcmp(mode, "ip")) t.mode = MODE_IP;
    else if (!strcmp(mode, "punt-inject")) t.mode = MODE_PUNT_INJECT;
    else return fail("mode must be ethernet, ip or punt-inject");
    if (log2 < 1 || log2 > 32) return fail("ring_size_log2 must be 1..32");
    if (bsize < 64 || bsize > 65535) return fail("buffer_size must be 64..65535");
    if (rxq < 1 || rxq > 255 || txq < 1 || txq > 255) return fail("queues must be 1..255");
    if (secret && strlen(secret) > MEMIF_SECRET_LEN - 1) return fail("secret longer than 23");
    t.log2_cfg = (uint8_t)(log2 > MEMIF_MAX_LOG2_RING ? MEMIF_MAX_LOG2_RING : log2);
    t.bsize_cfg = bsize;
    t.rxq_cfg = (uint8_t)rxq;
    t.txq_cfg = (uint8_t)txq;
    t.enabled = enabled;
    /* "python": frames wait in the ring for rx_burst(); "drop": the loop
     * drains and counts them so a peer is never stalled. */
    if (!strcmp(rx_mode, "python")) t.python_rx = 1;
    else if (strcmp(rx_mode, "drop")) return fail("rx_mode must be drop or python");
    if (secret) snprintf(t.secret, sizeof(t.secret), "%s", secret);
    if (mac) snprintf(t.mac, sizeof(t.mac), "%s", mac);
    char err[256] = "";
    LOCK(self);
    int r = dp_add_interface(self->dp, &t, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_remove_interface(DpObject *self, PyObject *args) {
    unsigned int sid, id;
    if (!PyArg_ParseTuple(args, "II", &sid, &id) || check_open(self)) return NULL;
    char err[256] = "";
    LOCK(self);
    int r = dp_remove_interface(self->dp, sid, id, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_set_enabled(DpObject *self, PyObject *args) {
    unsigned int sid, id;
    int up;
    if (!PyArg_ParseTuple(args, "IIp", &sid, &id, &up) || check_open(self)) return NULL;
    char err[256] = "";
    LOCK(self);
    int r = dp_set_enabled(self->dp, sid, id, up, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_set_xconnect(DpObject *self, PyObject *args) {
    unsigned int sid, id, psid = 0, pid = 0;
    PyObject *peer;
    if (!PyArg_ParseTuple(args, "(II)O", &sid, &id, &peer) || check_open(self)) return NULL;
    int has = peer != Py_None;
    if (has && !PyArg_ParseTuple(peer, "II", &psid, &pid)) return NULL;
    char err[256] = "";
    LOCK(self);
    int r = dp_set_xconnect(self->dp, sid, id, has, psid, pid, err, sizeof(err));
    UNLOCK(self);
    if (r) return fail(err);
    Py_RETURN_NONE;
}

static itf_t *connected(DpObject *self, unsigned sid, unsigned id, unsigned q, int tx, queue_t **qq,
                        char *err) {
    itf_t *i = dp_find(self->dp, sid, id);
    if (!i) { sprintf(err, "memif%u/%u does not exist", sid, id); return NULL; }
    if (i->state != ST_CONNECTED) { sprintf(err, "memif%u/%u is not connected", sid, id); return NULL; }
    int n;
    queue_t *arr = tx ? itf_txq(i, &n) : itf_rxq(i, &n);
    if ((int)q >= n) { sprintf(err, "memif%u/%u has no queue %u", sid, id, q); return NULL; }
    *qq = &arr[q];
    return i;
}

static PyObject *Dp_rx_burst(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"socket_id", "if_id", "queue", "max_packets", NULL};
    unsigned sid, id, q = 0;
    int max = 256;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "II|Ii", kwlist, &sid, &id, &q, &max)) return NULL;
    if (check_open(self)) return NULL;
    if (max < 1) max = 1;
    if (max > SCRATCH_FRAMES) max = SCRATCH_FRAMES;
    uint32_t lens[SCRATCH_FRAMES];
    char err[128] = "";
    PyObject *buf = NULL;
    int got = 0;
    uint64_t bytes = 0;
    LOCK(self);
    queue_t *qq;
    itf_t *i = connected(self, sid, id, q, 0, &qq, err);
    if (i) {
        i->python_rx = 1;
        got = ring_rx(&i->rc, qq, self->dp->scratch, SCRATCH_BYTES, lens, max, &bytes);
        i->rx_packets += (uint64_t)got;
        i->rx_bytes += bytes;
        buf = PyBytes_FromStringAndSize((const char *)self->dp->scratch, (Py_ssize_t)bytes);
    }
    UNLOCK(self);
    if (!i) return fail(err);
    if (!buf) return NULL;
    PyObject *lst = PyList_New(got);
    for (int k = 0; k < got; k++) PyList_SET_ITEM(lst, k, PyLong_FromUnsignedLong(lens[k]));
    return Py_BuildValue("(NN)", buf, lst);
}

static PyObject *Dp_tx_burst(DpObject *self, PyObject *args) {
    unsigned sid, id, q;
    Py_buffer data;
    PyObject *lens_obj;
    if (!PyArg_ParseTuple(args, "IIIy*O", &sid, &id, &q, &data, &lens_obj)) return NULL;
    PyObject *seq = PySequence_Fast(lens_obj, "lengths must be a sequence");
    if (!seq) { PyBuffer_Release(&data); return NULL; }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    uint32_t *lens = malloc(sizeof(uint32_t) * (size_t)(n ? n : 1));
    uint64_t total = 0;
    for (Py_ssize_t k = 0; k < n; k++) {
        unsigned long v = PyLong_AsUnsignedLong(PySequence_Fast_GET_ITEM(seq, k));
        if (PyErr_Occurred() || v > MAX_FRAME) {
            free(lens); Py_DECREF(seq); PyBuffer_Release(&data);
            if (!PyErr_Occurred()) PyErr_SetString(MemifError, "frame longer than 65535 bytes");
            return NULL;
        }
        lens[k] = (uint32_t)v;
        total += v;
    }
    Py_DECREF(seq);
    if (total > (uint64_t)data.len) {
        free(lens); PyBuffer_Release(&data);
        return fail("lengths add up to more than the data");
    }
    if (check_open(self)) { free(lens); PyBuffer_Release(&data); return NULL; }
    char err[128] = "";
    int sent = 0;
    LOCK(self);
    queue_t *qq;
    itf_t *i = connected(self, sid, id, q, 1, &qq, err);
    if (i) {
        uint64_t before = qq->bytes;
        sent = ring_tx(&i->rc, qq, data.buf, lens, (int)n);
        i->tx_packets += (uint64_t)sent;
        i->tx_bytes += qq->bytes - before;
    }
    UNLOCK(self);
    free(lens);
    PyBuffer_Release(&data);
    if (!i) return fail(err);
    return PyLong_FromLong(sent);
}

static PyObject *Dp_start_traffic(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"socket_id", "if_id", "kind", "size", "queue", NULL};
    unsigned sid, id, size = 64, q = 0;
    const char *kind = "tx";
    if (!PyArg_ParseTupleAndKeywords(args, kw, "II|sII", kwlist, &sid, &id, &kind, &size, &q))
        return NULL;
    if (check_open(self)) return NULL;
    if (size < 14 || size > 9216) return fail("size must be 14..9216");
    int k = !strcmp(kind, "tx")        ? TRAFFIC_TX
            : !strcmp(kind, "rx")      ? TRAFFIC_RX
            : !strcmp(kind, "rx-copy") ? TRAFFIC_RX_COPY
                                       : -1;
    if (k < 0) return fail("kind must be tx, rx or rx-copy");
    char err[128] = "";
    LOCK(self);
    itf_t *i = dp_find(self->dp, sid, id);
    if (i) {
        dp_t *dp = self->dp;
        for (int f = 0; f < SCRATCH_FRAMES; f++) {
            uint8_t *fr = dp->gen_frame + (size_t)f * size;
            memset(fr, 0, size);
            memset(fr, 0xff, 6); /* broadcast */
            fr[6] = 0x02; fr[7] = 0xfe;
            fr[12] = 0x88; fr[13] = 0xb5; /* local experimental ethertype */
            dp->scratch_lens[SCRATCH_FRAMES + f] = size;
        }
        i->traffic = k;
        i->traffic_size = size;
        dp_wake(dp);
    } else {
        sprintf(err, "memif%u/%u does not exist", sid, id);
    }
    UNLOCK(self);
    if (!i) return fail(err);
    Py_RETURN_NONE;
}

static PyObject *Dp_stop_traffic(DpObject *self, PyObject *args) {
    unsigned sid, id;
    if (!PyArg_ParseTuple(args, "II", &sid, &id) || check_open(self)) return NULL;
    LOCK(self);
    itf_t *i = dp_find(self->dp, sid, id);
    if (i) dp_stop_traffic(i);
    UNLOCK(self);
    Py_RETURN_NONE;
}

static const char *state_name(int s) {
    static const char *n[] = {"disabled", "listening", "connecting", "handshake", "connected"};
    return n[s];
}

#define SET(d, k, v)                          \
    do {                                      \
        PyObject *_v = (v);                   \
        PyDict_SetItemString((d), (k), _v);   \
        Py_DECREF(_v);                        \
    } while (0)

static PyObject *queue_dict(const char *dir, int k, queue_t *q) {
    PyObject *d = PyDict_New();
    SET(d, "direction", PyUnicode_FromString(dir));
    SET(d, "id", PyLong_FromLong(k));
    SET(d, "ring-size", PyLong_FromLong(q->mask + 1));
    SET(d, "head", PyLong_FromLong(q->ring->head));
    SET(d, "tail", PyLong_FromLong(q->ring->tail));
    SET(d, "packets", PyLong_FromUnsignedLongLong(q->packets));
    SET(d, "bytes", PyLong_FromUnsignedLongLong(q->bytes));
    SET(d, "interrupts", PyLong_FromUnsignedLongLong(q->interrupts));
    return d;
}

static PyObject *itf_dict(itf_t *i) {
    PyObject *d = PyDict_New();
    char name[48];
    snprintf(name, sizeof(name), "memif%u/%u", i->sid, i->id);
    int up = i->state == ST_CONNECTED;
    SET(d, "socket-id", PyLong_FromUnsignedLong(i->sid));
    SET(d, "id", PyLong_FromUnsignedLong(i->id));
    SET(d, "name", PyUnicode_FromString(name));
    SET(d, "role", PyUnicode_FromString(i->role == ROLE_SERVER ? "server" : "client"));
    SET(d, "mode", PyUnicode_FromString(i->mode == MODE_IP ? "ip" : "ethernet"));
    SET(d, "admin-status", PyUnicode_FromString(i->enabled ? "up" : "down"));
    SET(d, "link-status", PyUnicode_FromString(up ? "up" : "down"));
    SET(d, "connection-state", PyUnicode_FromString(state_name(i->state)));
    if (i->mac[0]) SET(d, "mac-address", PyUnicode_FromString(i->mac));
    SET(d, "local-disconnect-reason", PyUnicode_FromString(i->local_reason));
    SET(d, "remote-disconnect-reason", PyUnicode_FromString(i->remote_reason));
    SET(d, "remote-name", PyUnicode_FromString(i->remote_name));
    SET(d, "remote-interface-name", PyUnicode_FromString(i->remote_if));
    if (up) {
        int nrx, ntx;
        queue_t *rx = itf_rxq(i, &nrx), *tx = itf_txq(i, &ntx);
        SET(d, "ring-size", PyLong_FromLong(1L << i->log2));
        SET(d, "buffer-size", PyLong_FromUnsignedLong(i->bsize_run));
        SET(d, "rx-queues", PyLong_FromLong(nrx));
        SET(d, "tx-queues", PyLong_FromLong(ntx));
        SET(d, "regions", PyLong_FromLong(i->n_regions));
        PyObject *qs = PyList_New(0);
        for (int k = 0; k < nrx; k++) {
            PyObject *qd = queue_dict("rx", k, &rx[k]);
            PyList_Append(qs, qd);
            Py_DECREF(qd);
        }
        for (int k = 0; k < ntx; k++) {
            PyObject *qd = queue_dict("tx", k, &tx[k]);
            PyList_Append(qs, qd);
            Py_DECREF(qd);
        }
        SET(d, "queues", qs);
    }
    PyObject *c = PyDict_New();
    SET(c, "rx-packets", PyLong_FromUnsignedLongLong(i->rx_packets));
    SET(c, "rx-bytes", PyLong_FromUnsignedLongLong(i->rx_bytes));
    SET(c, "tx-packets", PyLong_FromUnsignedLongLong(i->tx_packets));
    SET(c, "tx-bytes", PyLong_FromUnsignedLongLong(i->tx_bytes));
    SET(c, "rx-drops", PyLong_FromUnsignedLongLong(i->rx_drops));
    SET(c, "tx-drops", PyLong_FromUnsignedLongLong(i->rc.tx_drops));
    SET(c, "bad-descriptors", PyLong_FromUnsignedLongLong(i->rc.bad_desc));
    SET(c, "no-free-slots", PyLong_FromUnsignedLongLong(i->rc.no_free_slots));
    SET(c, "interrupts", PyLong_FromUnsignedLongLong(i->interrupts));
    SET(d, "counters", c);
    return d;
}

static PyObject *Dp_state(DpObject *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    PyObject *socks = PyList_New(0), *itfs = PyList_New(0);
    LOCK(self);
    for (sock_t *s = self->dp->sockets; s; s = s->next) {
        PyObject *d = PyDict_New();
        int count = 0;
        for (itf_t *i = self->dp->itfs; i; i = i->next) count += i->sock == s;
        SET(d, "id", PyLong_FromUnsignedLong(s->id));
        SET(d, "filename", PyUnicode_FromString(s->path));
        SET(d, "listening", PyBool_FromLong(s->listen_fd >= 0));
        if (s->role != ROLE_NONE)
            SET(d, "role", PyUnicode_FromString(s->role == ROLE_SERVER ? "server" : "client"));
        SET(d, "interface-count", PyLong_FromLong(count));
        if (s->error[0]) SET(d, "error", PyUnicode_FromString(s->error));
        if (s->refused[0]) SET(d, "last-refusal", PyUnicode_FromString(s->refused));
        PyList_Append(socks, d);
        Py_DECREF(d);
    }
    for (itf_t *i = self->dp->itfs; i; i = i->next) {
        PyObject *d = itf_dict(i);
        PyList_Append(itfs, d);
        Py_DECREF(d);
    }
    UNLOCK(self);
    return Py_BuildValue("{s:N,s:N}", "sockets", socks, "interfaces", itfs);
}

static PyObject *Dp_interface_state(DpObject *self, PyObject *args) {
    unsigned sid, id;
    if (!PyArg_ParseTuple(args, "II", &sid, &id) || check_open(self)) return NULL;
    PyObject *d = NULL;
    LOCK(self);
    itf_t *i = dp_find(self->dp, sid, id);
    if (i) d = itf_dict(i);
    UNLOCK(self);
    if (!d) {
        char err[64];
        snprintf(err, sizeof(err), "memif%u/%u does not exist", sid, id);
        return fail(err);
    }
    return d;
}

static PyObject *codec_decode(PyObject *mod, PyObject *args) {
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "y*", &b)) return NULL;
    ctrl_msg_t m;
    int r = ctrl_decode(b.buf, (size_t)b.len, &m);
    PyBuffer_Release(&b);
    if (r) return fail("not a memif control message");
    PyObject *d = PyDict_New();
    SET(d, "type", PyUnicode_FromString(ctrl_type_name(m.type)));
    switch (m.type) {
    case MSG_HELLO:
        SET(d, "name", PyUnicode_FromString(m.u.hello.name));
        SET(d, "min_version", PyLong_FromLong(m.u.hello.min_version));
        SET(d, "max_version", PyLong_FromLong(m.u.hello.max_version));
        SET(d, "max_region", PyLong_FromLong(m.u.hello.max_region));
        SET(d, "max_m2s_ring", PyLong_FromLong(m.u.hello.max_m2s_ring));
        SET(d, "max_s2m_ring", PyLong_FromLong(m.u.hello.max_s2m_ring));
        SET(d, "max_log2_ring_size", PyLong_FromLong(m.u.hello.max_log2_ring_size));
        break;
    case MSG_INIT:
        SET(d, "version", PyLong_FromLong(m.u.init.version));
        SET(d, "id", PyLong_FromUnsignedLong(m.u.init.id));
        SET(d, "mode", PyLong_FromLong(m.u.init.mode));
        SET(d, "secret", PyUnicode_DecodeLatin1(m.u.init.secret, strlen(m.u.init.secret), NULL));
        SET(d, "name", PyUnicode_DecodeLatin1(m.u.init.name, strlen(m.u.init.name), NULL));
        break;
    case MSG_ADD_REGION:
        SET(d, "index", PyLong_FromLong(m.u.add_region.index));
        SET(d, "size", PyLong_FromUnsignedLongLong(m.u.add_region.size));
        break;
    case MSG_ADD_RING:
        SET(d, "flags", PyLong_FromLong(m.u.add_ring.flags));
        SET(d, "index", PyLong_FromLong(m.u.add_ring.index));
        SET(d, "region", PyLong_FromLong(m.u.add_ring.region));
        SET(d, "offset", PyLong_FromUnsignedLong(m.u.add_ring.offset));
        SET(d, "log2_ring_size", PyLong_FromLong(m.u.add_ring.log2_ring_size));
        SET(d, "private_hdr_size", PyLong_FromLong(m.u.add_ring.private_hdr_size));
        break;
    case MSG_CONNECT:
    case MSG_CONNECTED:
        SET(d, "if_name", PyUnicode_DecodeLatin1(m.u.connect.if_name, strlen(m.u.connect.if_name), NULL));
        break;
    case MSG_DISCONNECT:
        SET(d, "code", PyLong_FromUnsignedLong(m.u.disconnect.code));
        SET(d, "string", PyUnicode_DecodeLatin1(m.u.disconnect.string, strlen(m.u.disconnect.string), NULL));
        break;
    }
    return d;
}

static PyMethodDef Dp_methods[] = {
    {"close", (PyCFunction)Dp_close, METH_NOARGS, "Stop the loop and free everything."},
    {"fileno", (PyCFunction)Dp_fileno, METH_NOARGS, "eventfd readable while events are queued."},
    {"events", (PyCFunction)Dp_events, METH_NOARGS, "Drain queued link events."},
    {"add_socket", (PyCFunction)(void (*)(void))Dp_add_socket, METH_VARARGS | METH_KEYWORDS, ""},
    {"remove_socket", (PyCFunction)Dp_remove_socket, METH_VARARGS, ""},
    {"add_interface", (PyCFunction)(void (*)(void))Dp_add_interface, METH_VARARGS | METH_KEYWORDS, ""},
    {"remove_interface", (PyCFunction)Dp_remove_interface, METH_VARARGS, ""},
    {"set_enabled", (PyCFunction)Dp_set_enabled, METH_VARARGS, ""},
    {"set_xconnect", (PyCFunction)Dp_set_xconnect, METH_VARARGS, ""},
    {"rx_burst", (PyCFunction)(void (*)(void))Dp_rx_burst, METH_VARARGS | METH_KEYWORDS, ""},
    {"tx_burst", (PyCFunction)Dp_tx_burst, METH_VARARGS, ""},
    {"start_traffic", (PyCFunction)(void (*)(void))Dp_start_traffic, METH_VARARGS | METH_KEYWORDS, ""},
    {"stop_traffic", (PyCFunction)Dp_stop_traffic, METH_VARARGS, ""},
    {"state", (PyCFunction)Dp_state, METH_NOARGS, ""},
    {"interface_state", (PyCFunction)Dp_interface_state, METH_VARARGS, ""},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject DpType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "dataplane._memif.Dataplane",
    .tp_basicsize = sizeof(DpObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Dp_init,
    .tp_dealloc = (destructor)Dp_dealloc,
    .tp_methods = Dp_methods,
    .tp_doc = "memif dataplane: sockets, interfaces, rings, on its own epoll thread.",
};

static PyMethodDef module_methods[] = {
    {"codec_decode", codec_decode, METH_VARARGS, "Decode one 128-byte control message."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef memif_module = {
    PyModuleDef_HEAD_INIT, "_memif", "memif 2.0 dataplane", -1, module_methods,
};

PyMODINIT_FUNC PyInit__memif(void) {
    if (PyType_Ready(&DpType) < 0) return NULL;
    PyObject *m = PyModule_Create(&memif_module);
    if (!m) return NULL;
    MemifError = PyErr_NewException("dataplane._memif.MemifError", PyExc_Exception, NULL);
    Py_INCREF(MemifError);
    PyModule_AddObject(m, "MemifError", MemifError);
    Py_INCREF(&DpType);
    PyModule_AddObject(m, "Dataplane", (PyObject *)&DpType);
    return m;
}
