/* CPython face of the dataplane: argument parsing, dicts, exceptions. The
 * GIL is released while waiting for the dataplane lock. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "ctrl.h"
#include "dp.h"
#include "state_blob.h"

PyObject *memif_format_state(PyObject *mod, PyObject *args); /* state_text.c */

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

/* A string a peer chose (names, reasons, and our messages that quote them),
 * as text that is always valid and safe to print or put in XML: UTF-8 where it
 * is valid, each control character and each other byte as \xNN. */
static PyObject *peer_str(const char *s) {
    size_t n = strlen(s);
    char *buf = PyMem_Malloc(4 * n + 1);
    if (!buf) return PyErr_NoMemory();
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == 0x7f) o += (size_t)sprintf(buf + o, "\\x%02x", c);
        else buf[o++] = (char)c;
    }
    PyObject *r = PyUnicode_DecodeUTF8(buf, (Py_ssize_t)o, "backslashreplace");
    PyMem_Free(buf);
    return r;
}

/* Steals v. 1 when stored, 0 (with the exception set) when v is NULL or the
 * store fails, so a dict is built as `ok = ok && put(...)`. */
static int put(PyObject *d, const char *k, PyObject *v) {
    if (!v) return 0;
    int r = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return r == 0;
}

/* Steals v: appended or 0 with the exception set. */
static int append(PyObject *list, PyObject *v) {
    if (!v) return 0;
    int r = PyList_Append(list, v);
    Py_DECREF(v);
    return r == 0;
}

static int Dp_init(DpObject *self, PyObject *args, PyObject *kw) {
    static char *kwlist[] = {"app_name", "handshake_timeout", "max_pending", NULL};
    const char *name = "memif-agent";
    double hs_timeout = DP_HS_TIMEOUT;
    int max_pending = DP_MAX_PENDING;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|s$di", kwlist, &name, &hs_timeout, &max_pending))
        return -1;
    if (!(hs_timeout > 0 && hs_timeout <= 3600)) {
        PyErr_SetString(PyExc_ValueError, "handshake_timeout must be in (0, 3600] seconds");
        return -1;
    }
    if (max_pending < 1 || max_pending > 65536) {
        PyErr_SetString(PyExc_ValueError, "max_pending must be 1..65536");
        return -1;
    }
    char err[256] = "";
    if (self->dp) return 0;
    self->dp = dp_new(name, hs_timeout, max_pending, err, sizeof(err));
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
    if (n && !copy) return PyErr_NoMemory(); /* the events are lost, the caller is told */
    PyObject *list = PyList_New(0);
    int ok = list != NULL;
    for (int k = 0; ok && k < n; k++) {
        char name[48];
        snprintf(name, sizeof(name), "memif%u/%u", copy[k].sid, copy[k].id);
        PyObject *d = PyDict_New();
        int okd = d != NULL;
        if (copy[k].kind == DP_EV_LOG) {
            okd = okd && put(d, "type", PyUnicode_FromString("log"));
            okd = okd && put(d, "level", PyUnicode_FromString("warning"));
            okd = okd && put(d, "message", peer_str(copy[k].reason));
        } else {
            okd = okd && put(d, "type", PyUnicode_FromString("link"));
            okd = okd && put(d, "up", PyBool_FromLong(copy[k].up));
            okd = okd && put(d, "reason", peer_str(copy[k].reason));
        }
        okd = okd && put(d, "socket_id", PyLong_FromUnsignedLong(copy[k].sid));
        okd = okd && put(d, "id", PyLong_FromUnsignedLong(copy[k].id));
        okd = okd && put(d, "name", PyUnicode_FromString(name));
        if (!okd) {
            Py_XDECREF(d);
            ok = 0;
        } else {
            ok = append(list, d);
        }
    }
    free(copy);
    if (!ok) {
        Py_XDECREF(list);
        return NULL;
    }
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
        dp_note_ring(self->dp, i);
        buf = PyBytes_FromStringAndSize((const char *)self->dp->scratch, (Py_ssize_t)bytes);
    }
    UNLOCK(self);
    if (!i) return fail(err);
    if (!buf) return NULL;
    PyObject *lst = PyList_New(got);
    if (!lst) {
        Py_DECREF(buf);
        return NULL;
    }
    for (int k = 0; k < got; k++) {
        PyObject *v = PyLong_FromUnsignedLong(lens[k]);
        if (!v) {
            Py_DECREF(buf);
            Py_DECREF(lst);
            return NULL;
        }
        PyList_SET_ITEM(lst, k, v);
    }
    return Py_BuildValue("(NN)", buf, lst); /* N: both are released if this fails */
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
    if (!lens) {
        Py_DECREF(seq);
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
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
        dp_note_ring(self->dp, i);
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

static PyObject *queue_dict(const char *dir, int k, queue_t *q) {
    PyObject *d = PyDict_New();
    int ok = d != NULL;
    ok = ok && put(d, "direction", PyUnicode_FromString(dir));
    ok = ok && put(d, "id", PyLong_FromLong(k));
    ok = ok && put(d, "ring-size", PyLong_FromLong(q->mask + 1));
    ok = ok && put(d, "head", PyLong_FromLong(q->ring->head));
    ok = ok && put(d, "tail", PyLong_FromLong(q->ring->tail));
    ok = ok && put(d, "packets", PyLong_FromUnsignedLongLong(q->packets));
    ok = ok && put(d, "bytes", PyLong_FromUnsignedLongLong(q->bytes));
    ok = ok && put(d, "interrupts", PyLong_FromUnsignedLongLong(q->interrupts));
    if (!ok) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *queues_list(itf_t *i) {
    int nrx, ntx;
    queue_t *rx = itf_rxq(i, &nrx), *tx = itf_txq(i, &ntx);
    PyObject *qs = PyList_New(0);
    int ok = qs != NULL;
    for (int k = 0; ok && k < nrx; k++) ok = append(qs, queue_dict("rx", k, &rx[k]));
    for (int k = 0; ok && k < ntx; k++) ok = append(qs, queue_dict("tx", k, &tx[k]));
    if (!ok) {
        Py_XDECREF(qs);
        return NULL;
    }
    return qs;
}

static PyObject *counters_dict(itf_t *i) {
    PyObject *c = PyDict_New();
    int ok = c != NULL;
    ok = ok && put(c, "rx-packets", PyLong_FromUnsignedLongLong(i->rx_packets));
    ok = ok && put(c, "rx-bytes", PyLong_FromUnsignedLongLong(i->rx_bytes));
    ok = ok && put(c, "tx-packets", PyLong_FromUnsignedLongLong(i->tx_packets));
    ok = ok && put(c, "tx-bytes", PyLong_FromUnsignedLongLong(i->tx_bytes));
    ok = ok && put(c, "rx-drops", PyLong_FromUnsignedLongLong(i->rx_drops));
    ok = ok && put(c, "tx-drops", PyLong_FromUnsignedLongLong(i->rc.tx_drops));
    ok = ok && put(c, "bad-descriptors", PyLong_FromUnsignedLongLong(i->rc.bad_desc));
    ok = ok && put(c, "no-free-slots", PyLong_FromUnsignedLongLong(i->rc.no_free_slots));
    ok = ok && put(c, "ring-overruns", PyLong_FromUnsignedLongLong(i->rc.overruns));
    ok = ok && put(c, "interrupts", PyLong_FromUnsignedLongLong(i->interrupts));
    if (!ok) {
        Py_XDECREF(c);
        return NULL;
    }
    return c;
}

static PyObject *itf_dict(itf_t *i) {
    PyObject *d = PyDict_New();
    char name[48];
    snprintf(name, sizeof(name), "memif%u/%u", i->sid, i->id);
    int up = i->state == ST_CONNECTED;
    int ok = d != NULL;
    ok = ok && put(d, "socket-id", PyLong_FromUnsignedLong(i->sid));
    ok = ok && put(d, "id", PyLong_FromUnsignedLong(i->id));
    ok = ok && put(d, "name", PyUnicode_FromString(name));
    ok = ok && put(d, "role", PyUnicode_FromString(i->role == ROLE_SERVER ? "server" : "client"));
    ok = ok && put(d, "mode", PyUnicode_FromString(i->mode == MODE_IP ? "ip" : "ethernet"));
    ok = ok && put(d, "admin-status", PyUnicode_FromString(i->enabled ? "up" : "down"));
    ok = ok && put(d, "link-status", PyUnicode_FromString(up ? "up" : "down"));
    ok = ok && put(d, "connection-state", PyUnicode_FromString(state_name(i->state)));
    if (i->mac[0]) ok = ok && put(d, "mac-address", peer_str(i->mac));
    /* Reasons and names come from the peer, or quote it. */
    ok = ok && put(d, "local-disconnect-reason", peer_str(i->local_reason));
    ok = ok && put(d, "remote-disconnect-reason", peer_str(i->remote_reason));
    ok = ok && put(d, "remote-name", peer_str(i->remote_name));
    ok = ok && put(d, "remote-interface-name", peer_str(i->remote_if));
    if (up) {
        int nrx, ntx;
        itf_rxq(i, &nrx);
        itf_txq(i, &ntx);
        uint32_t bsize = dp_buffer_size(i);
        ok = ok && put(d, "ring-size", PyLong_FromLong(1L << i->log2));
        if (bsize) ok = ok && put(d, "buffer-size", PyLong_FromUnsignedLong(bsize));
        ok = ok && put(d, "rx-queues", PyLong_FromLong(nrx));
        ok = ok && put(d, "tx-queues", PyLong_FromLong(ntx));
        ok = ok && put(d, "regions", PyLong_FromLong(i->n_regions));
        ok = ok && put(d, "queues", queues_list(i));
    }
    ok = ok && put(d, "counters", counters_dict(i));
    if (!ok) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *sock_dict(dp_t *dp, sock_t *s) {
    PyObject *d = PyDict_New();
    int count = 0;
    for (itf_t *i = dp->itfs; i; i = i->next) count += i->sock == s;
    int ok = d != NULL;
    ok = ok && put(d, "id", PyLong_FromUnsignedLong(s->id));
    ok = ok && put(d, "filename", peer_str(s->path));
    ok = ok && put(d, "listening", PyBool_FromLong(s->listen_fd >= 0));
    if (s->role != ROLE_NONE)
        ok = ok && put(d, "role", PyUnicode_FromString(s->role == ROLE_SERVER ? "server" : "client"));
    ok = ok && put(d, "interface-count", PyLong_FromLong(count));
    ok = ok && put(d, "pending-connections", PyLong_FromLong(s->n_pending));
    ok = ok && put(d, "dropped-connections", PyLong_FromUnsignedLongLong(s->dropped));
    if (s->error[0]) ok = ok && put(d, "error", peer_str(s->error));
    if (s->refused[0]) ok = ok && put(d, "last-refusal", peer_str(s->refused));
    if (!ok) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *Dp_state(DpObject *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    PyObject *socks = PyList_New(0), *itfs = PyList_New(0);
    if (!socks || !itfs) {
        Py_XDECREF(socks);
        Py_XDECREF(itfs);
        return NULL;
    }
    int ok = 1;
    LOCK(self);
    for (sock_t *s = self->dp->sockets; ok && s; s = s->next) ok = append(socks, sock_dict(self->dp, s));
    for (itf_t *i = self->dp->itfs; ok && i; i = i->next) ok = append(itfs, itf_dict(i));
    UNLOCK(self);
    if (!ok) {
        Py_DECREF(socks);
        Py_DECREF(itfs);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:N}", "sockets", socks, "interfaces", itfs);
}

/* state() as bytes (state_blob.h): what <get> reads, at a fraction of the cost. */
static PyObject *Dp_state_blob(DpObject *self, PyObject *unused) {
    if (check_open(self)) return NULL;
    LOCK(self);
    size_t n = dp_state_blob(self->dp, NULL, 0);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (b) dp_state_blob(self->dp, (uint8_t *)PyBytes_AS_STRING(b), n);
    UNLOCK(self);
    return b;
}

static PyObject *Dp_interface_state(DpObject *self, PyObject *args) {
    unsigned sid, id;
    if (!PyArg_ParseTuple(args, "II", &sid, &id) || check_open(self)) return NULL;
    PyObject *d = NULL;
    LOCK(self);
    itf_t *i = dp_find(self->dp, sid, id);
    if (i) d = itf_dict(i);
    UNLOCK(self);
    if (!i) {
        char err[64];
        snprintf(err, sizeof(err), "memif%u/%u does not exist", sid, id);
        return fail(err);
    }
    return d; /* NULL with the exception set if building it failed */
}

static PyObject *latin1(const char *s) { return PyUnicode_DecodeLatin1(s, (Py_ssize_t)strlen(s), NULL); }

static PyObject *codec_decode(PyObject *mod, PyObject *args) {
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "y*", &b)) return NULL;
    ctrl_msg_t m;
    int r = wire_parse_msg(b.buf, (size_t)b.len, &m);
    PyBuffer_Release(&b);
    if (r) return fail("not a memif control message");
    PyObject *d = PyDict_New();
    int ok = d != NULL;
    ok = ok && put(d, "type", PyUnicode_FromString(ctrl_type_name(m.type)));
    switch (m.type) {
    case MSG_HELLO:
        ok = ok && put(d, "name", latin1(m.u.hello.name));
        ok = ok && put(d, "min_version", PyLong_FromLong(m.u.hello.min_version));
        ok = ok && put(d, "max_version", PyLong_FromLong(m.u.hello.max_version));
        ok = ok && put(d, "max_region", PyLong_FromLong(m.u.hello.max_region));
        ok = ok && put(d, "max_m2s_ring", PyLong_FromLong(m.u.hello.max_m2s_ring));
        ok = ok && put(d, "max_s2m_ring", PyLong_FromLong(m.u.hello.max_s2m_ring));
        ok = ok && put(d, "max_log2_ring_size", PyLong_FromLong(m.u.hello.max_log2_ring_size));
        break;
    case MSG_INIT:
        ok = ok && put(d, "version", PyLong_FromLong(m.u.init.version));
        ok = ok && put(d, "id", PyLong_FromUnsignedLong(m.u.init.id));
        ok = ok && put(d, "mode", PyLong_FromLong(m.u.init.mode));
        ok = ok && put(d, "secret", latin1(m.u.init.secret));
        ok = ok && put(d, "name", latin1(m.u.init.name));
        break;
    case MSG_ADD_REGION:
        ok = ok && put(d, "index", PyLong_FromLong(m.u.add_region.index));
        ok = ok && put(d, "size", PyLong_FromUnsignedLongLong(m.u.add_region.size));
        break;
    case MSG_ADD_RING:
        ok = ok && put(d, "flags", PyLong_FromLong(m.u.add_ring.flags));
        ok = ok && put(d, "index", PyLong_FromLong(m.u.add_ring.index));
        ok = ok && put(d, "region", PyLong_FromLong(m.u.add_ring.region));
        ok = ok && put(d, "offset", PyLong_FromUnsignedLong(m.u.add_ring.offset));
        ok = ok && put(d, "log2_ring_size", PyLong_FromLong(m.u.add_ring.log2_ring_size));
        ok = ok && put(d, "private_hdr_size", PyLong_FromLong(m.u.add_ring.private_hdr_size));
        break;
    case MSG_CONNECT:
    case MSG_CONNECTED:
        ok = ok && put(d, "if_name", latin1(m.u.connect.if_name));
        break;
    case MSG_DISCONNECT:
        ok = ok && put(d, "code", PyLong_FromUnsignedLong(m.u.disconnect.code));
        ok = ok && put(d, "string", latin1(m.u.disconnect.string));
        break;
    }
    if (!ok) {
        Py_XDECREF(d);
        return NULL;
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
    {"state_blob", (PyCFunction)Dp_state_blob, METH_NOARGS, "state() in the form of state_blob.h."},
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
    {"format_state", memif_format_state, METH_VARARGS,
     "format_state(blob, socket_tag, interface_tag): {(socket_tag, (id,)) or (interface_tag,"
     " (socket id, id)): <state> element as bytes}, ids as decimal str, in the blob's order."},
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
    if (!MemifError) goto fail;
    Py_INCREF(MemifError);
    if (PyModule_AddObject(m, "MemifError", MemifError) < 0) {
        Py_DECREF(MemifError);
        goto fail;
    }
    Py_INCREF(&DpType);
    if (PyModule_AddObject(m, "Dataplane", (PyObject *)&DpType) < 0) {
        Py_DECREF(&DpType);
        goto fail;
    }
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
