/* format_state(blob): the agent's side of state_blob.h. Reads a blob the
 * dataplane process made, trusting none of it (every length, count and code
 * is checked against the bytes there are and the values the layout allows),
 * and writes each socket's and interface's <state> element as XML text.
 *
 * Strings are what a memif peer sent: bytes that are not part of a valid
 * UTF-8 sequence, control characters (C0, DEL, C1) and the non-characters
 * U+FFFE and U+FFFF become \xNN / \uNNNN, and & < > their entities, so the
 * text is always well-formed XML 1.0 on one line. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

#include "state_blob.h"

typedef struct {
    char *buf;
    size_t n, cap;
    int failed;
} text_t;

static int grow(text_t *t, size_t more) {
    if (t->failed) return -1;
    if (t->n + more <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->n + more) cap *= 2;
    char *b = PyMem_RawRealloc(t->buf, cap); /* without the GIL: see memif_format_state */
    if (!b) {
        t->failed = 1;
        return -1;
    }
    t->buf = b;
    t->cap = cap;
    return 0;
}

static inline void add(text_t *t, const char *s, size_t len) {
    if (t->n + len <= t->cap || grow(t, len) == 0) {
        memcpy(t->buf + t->n, s, len);
        t->n += len;
    }
}
#define ADDS(t, lit) add((t), (lit), sizeof(lit) - 1)

static void add_u64(text_t *t, uint64_t v) {
    char tmp[20];
    int k = 20;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    add(t, tmp + k, (size_t)(20 - k));
}

static size_t u32_digits(char *out, uint32_t v) {
    char tmp[10];
    size_t k = 10;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(out, tmp + k, 10 - k);
    return 10 - k;
}

static void add_hex_escape(text_t *t, unsigned c) {
    char tmp[8];
    int n = c < 0x100 ? snprintf(tmp, sizeof(tmp), "\\x%02x", c) : snprintf(tmp, sizeof(tmp), "\\u%04x", c);
    add(t, tmp, (size_t)n);
}

/* The length of the valid UTF-8 sequence starting at s (Python's strict
 * decoder's view: shortest form, no surrogates, at most U+10FFFF), or 0. */
static size_t utf8_len(const uint8_t *s, size_t n, unsigned *cp) {
    uint8_t c = s[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    unsigned v = c & (0x7F >> len);
    for (size_t k = 1; k < len; k++) v = (v << 6) | (s[k] & 0x3F);
    *cp = v;
    return len;
}

static void add_text(text_t *t, const uint8_t *s, size_t n) {
    size_t k = 0;
    while (k < n) {
        uint8_t c = s[k];
        if (c >= 0x20 && c < 0x7F) {
            if (c == '&') ADDS(t, "&amp;");
            else if (c == '<') ADDS(t, "&lt;");
            else if (c == '>') ADDS(t, "&gt;");
            else add(t, (const char *)&s[k], 1);
            k++;
            continue;
        }
        unsigned cp = 0;
        size_t len = c < 0x80 ? 0 : utf8_len(s + k, n - k, &cp);
        if (len == 0) {
            add_hex_escape(t, c); /* a control character or a byte of no valid sequence */
            k++;
        } else if ((cp >= 0x80 && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF) {
            add_hex_escape(t, cp);
            k += len;
        } else {
            add(t, (const char *)&s[k], len);
            k += len;
        }
    }
}

typedef struct {
    const uint8_t *p;
    size_t n, at;
    const char *error;
} reader_t;

static int need(reader_t *r, size_t len) {
    if (r->error) return 0;
    if (r->n - r->at < len) {
        r->error = "state blob truncated";
        return 0;
    }
    return 1;
}

static uint64_t rd(reader_t *r, int bytes) {
    if (!need(r, (size_t)bytes)) return 0;
    uint64_t v = 0;
    for (int k = bytes - 1; k >= 0; k--) v = (v << 8) | r->p[r->at + (size_t)k];
    r->at += (size_t)bytes;
    return v;
}

typedef struct {
    const uint8_t *s;
    size_t n;
} span_t;

static span_t rd_str(reader_t *r) {
    span_t sp = {NULL, 0};
    size_t len = (size_t)rd(r, 2);
    if (r->error) return sp;
    if (len > BLOB_MAX_STRING) {
        r->error = "state blob string too long";
        return sp;
    }
    if (!need(r, len)) return sp;
    sp.s = r->p + r->at;
    sp.n = len;
    r->at += len;
    return sp;
}

static void bad(reader_t *r, const char *why) {
    if (!r->error) r->error = why;
}

static void leaf_u64(text_t *t, const char *open, size_t olen, uint64_t v, const char *close, size_t clen) {
    add(t, open, olen);
    add_u64(t, v);
    add(t, close, clen);
}
#define LEAF_U64(t, name, v) leaf_u64((t), "<" name ">", sizeof(name) + 1, (v), "</" name ">", sizeof(name) + 2)
#define LEAF_LIT(t, name, lit) ADDS((t), "<" name ">" lit "</" name ">")

static void leaf_str(text_t *t, const char *name, span_t sp) {
    if (sp.n == 0) return; /* an empty value is no leaf */
    size_t nl = strlen(name);
    add(t, "<", 1);
    add(t, name, nl);
    add(t, ">", 1);
    add_text(t, sp.s, sp.n);
    add(t, "</", 2);
    add(t, name, nl);
    add(t, ">", 1);
}

static const char *const STATE_NAMES[] = {"disabled", "listening", "connecting", "handshake", "connected"};

static void socket_state(reader_t *r, text_t *t) {
    rd(r, 4); /* id, read by the caller */
    unsigned listening = (unsigned)rd(r, 1), role = (unsigned)rd(r, 1);
    rd(r, 2);
    uint64_t count = rd(r, 4), pending = rd(r, 4), dropped = rd(r, 8);
    rd_str(r); /* the filename: configuration, except socket 0's (the caller's) */
    span_t error = rd_str(r), refused = rd_str(r);
    if (listening > 1 || role > 2) bad(r, "state blob socket flags out of range");
    if (r->error) return;
    ADDS(t, "<state>");
    if (listening) LEAF_LIT(t, "listening", "true");
    else LEAF_LIT(t, "listening", "false");
    if (role == 1) LEAF_LIT(t, "role", "server");
    else if (role == 2) LEAF_LIT(t, "role", "client");
    LEAF_U64(t, "interface-count", count);
    LEAF_U64(t, "pending-connections", pending);
    LEAF_U64(t, "dropped-connections", dropped);
    leaf_str(t, "error", error);
    leaf_str(t, "last-refusal", refused);
    ADDS(t, "</state>");
}

static void interface_state(reader_t *r, text_t *t, uint32_t sid, uint32_t id) {
    rd(r, 8); /* socket id and id, read by the caller */
    unsigned role = (unsigned)rd(r, 1), mode = (unsigned)rd(r, 1);
    unsigned enabled = (unsigned)rd(r, 1), state = (unsigned)rd(r, 1);
    unsigned log2 = (unsigned)rd(r, 1), regions = (unsigned)rd(r, 1);
    unsigned nrx = (unsigned)rd(r, 2), ntx = (unsigned)rd(r, 2);
    rd(r, 2);
    uint64_t bsize = rd(r, 4);
    uint64_t counters[BLOB_COUNTERS];
    for (int k = 0; k < BLOB_COUNTERS; k++) counters[k] = rd(r, 8);
    span_t mac = rd_str(r), lreason = rd_str(r), rreason = rd_str(r);
    span_t rname = rd_str(r), rif = rd_str(r);
    int up = state == 4;
    if (role < 1 || role > 2 || mode > 1 || enabled > 1 || state > 4 || log2 > 31)
        bad(r, "state blob interface fields out of range");
    else if (!up && (nrx || ntx || log2 || regions || bsize))
        bad(r, "state blob: link details of an interface that is not connected");
    else if (nrx + ntx > BLOB_MAX_QUEUES)
        bad(r, "state blob: too many queues");
    if (r->error) return;
    char name[32] = "memif";
    size_t nl = 5;
    nl += u32_digits(name + nl, sid);
    name[nl++] = '/';
    nl += u32_digits(name + nl, id);
    ADDS(t, "<state><name>");
    add(t, name, nl);
    ADDS(t, "</name>");
    if (enabled) LEAF_LIT(t, "admin-status", "up");
    else LEAF_LIT(t, "admin-status", "down");
    if (up) LEAF_LIT(t, "link-status", "up");
    else LEAF_LIT(t, "link-status", "down");
    ADDS(t, "<connection-state>");
    add(t, STATE_NAMES[state], strlen(STATE_NAMES[state]));
    ADDS(t, "</connection-state>");
    leaf_str(t, "mac-address", mac);
    leaf_str(t, "local-disconnect-reason", lreason);
    leaf_str(t, "remote-disconnect-reason", rreason);
    leaf_str(t, "remote-name", rname);
    leaf_str(t, "remote-interface-name", rif);
    if (up) {
        LEAF_U64(t, "ring-size", (uint64_t)1 << log2);
        if (bsize) LEAF_U64(t, "buffer-size", bsize);
        LEAF_U64(t, "rx-queues", nrx);
        LEAF_U64(t, "tx-queues", ntx);
        LEAF_U64(t, "regions", regions);
        for (unsigned k = 0; k < nrx + ntx && !r->error; k++) {
            uint64_t ring = rd(r, 4), head = rd(r, 2), tail = rd(r, 2);
            uint64_t packets = rd(r, 8), bytes = rd(r, 8), intr = rd(r, 8);
            if (r->error) return;
            if (k < nrx) ADDS(t, "<queue><direction>rx</direction>");
            else ADDS(t, "<queue><direction>tx</direction>");
            LEAF_U64(t, "id", k < nrx ? k : k - nrx);
            LEAF_U64(t, "ring-size", ring);
            LEAF_U64(t, "head", head);
            LEAF_U64(t, "tail", tail);
            LEAF_U64(t, "packets", packets);
            LEAF_U64(t, "bytes", bytes);
            LEAF_U64(t, "interrupts", intr);
            ADDS(t, "</queue>");
        }
    }
    ADDS(t, "<counters>");
    LEAF_U64(t, "rx-packets", counters[0]);
    LEAF_U64(t, "rx-bytes", counters[1]);
    LEAF_U64(t, "tx-packets", counters[2]);
    LEAF_U64(t, "tx-bytes", counters[3]);
    LEAF_U64(t, "rx-drops", counters[4]);
    LEAF_U64(t, "tx-drops", counters[5]);
    LEAF_U64(t, "bad-descriptors", counters[6]);
    LEAF_U64(t, "no-free-slots", counters[7]);
    LEAF_U64(t, "ring-overruns", counters[8]);
    LEAF_U64(t, "interrupts", counters[9]);
    ADDS(t, "</counters></state>");
}

typedef struct {
    uint32_t sid, id; /* a socket's id in sid */
    size_t from, to;  /* its text in the output */
} entry_t;

/* Formats the whole blob into t, recording each entry in es (ns sockets
 * first, then the interfaces). No Python calls: runs without the GIL. */
static const char *format_all(reader_t *r, text_t *t, entry_t **es, entry_t **kept, size_t *kept_cap,
                              size_t *ns, size_t *ni) {
    if (!need(r, BLOB_HEADER) || memcmp(r->p, BLOB_MAGIC, 4) != 0) return "not a state blob";
    r->at = 4;
    uint64_t n_s = rd(r, 4), n_i = rd(r, 4);
    if (n_s > BLOB_MAX_ITEMS || n_i > BLOB_MAX_ITEMS) return "state blob: too many entries";
    /* Bounded by the blob's size too: an entry takes at least its fixed part. */
    if (n_s * BLOB_SOCKET_FIXED + n_i * BLOB_ITF_FIXED > r->n - r->at) return "state blob truncated";
    size_t want = (size_t)(n_s + n_i + 1);
    if (*kept_cap < want) {
        entry_t *grown = PyMem_RawRealloc(*kept, want * sizeof(entry_t));
        if (!grown) return NULL;
        *kept = grown;
        *kept_cap = want;
    }
    *es = *kept;
    for (uint64_t k = 0; k < n_s + n_i && !r->error; k++) {
        int is_socket = k < n_s;
        if (!need(r, is_socket ? BLOB_SOCKET_FIXED : BLOB_ITF_FIXED)) break;
        size_t at = r->at;
        entry_t *e = &(*es)[k];
        e->sid = (uint32_t)rd(r, 4);
        e->id = is_socket ? 0 : (uint32_t)rd(r, 4);
        r->at = at;
        e->from = t->n;
        if (is_socket) socket_state(r, t);
        else interface_state(r, t, e->sid, e->id);
        e->to = t->n;
        if (t->failed) return NULL;
    }
    if (!r->error && r->at != r->n) bad(r, "state blob: bytes after the last entry");
    *ns = (size_t)n_s;
    *ni = (size_t)n_i;
    return r->error;
}

/* ids as decimal text: the key values of running's list entries they meet */
static PyObject *id_text(uint32_t v) {
    char d[10];
    return PyUnicode_FromStringAndSize(d, (Py_ssize_t)u32_digits(d, v));
}

static int store(PyObject *d, PyObject *tag, text_t *t, entry_t *e, int is_socket) {
    PyObject *ids = is_socket ? Py_BuildValue("(N)", id_text(e->sid))
                              : Py_BuildValue("(NN)", id_text(e->sid), id_text(e->id));
    if (!ids) return -1;
    PyObject *key = Py_BuildValue("(ON)", tag, ids);
    if (!key) return -1;
    PyObject *b = PyBytes_FromStringAndSize(t->buf + e->from, (Py_ssize_t)(e->to - e->from));
    if (!b) {
        Py_DECREF(key);
        return -1;
    }
    int rc = PyDict_SetItem(d, key, b);
    Py_DECREF(key);
    Py_DECREF(b);
    return rc;
}

PyObject *memif_format_state(PyObject *mod, PyObject *args) {
    Py_buffer view;
    PyObject *socket_tag, *interface_tag;
    if (!PyArg_ParseTuple(args, "y*OO", &view, &socket_tag, &interface_tag)) return NULL;
    reader_t r = {view.buf, (size_t)view.len, 0, NULL};
    /* Kept per thread between calls: fresh pages for ~0.5 MB each <get> cost
     * a tenth of the formatting. */
    static _Thread_local text_t kept;
    static _Thread_local entry_t *kept_es;
    static _Thread_local size_t kept_es_cap;
    text_t t = kept;
    t.n = 0;
    t.failed = 0;
    entry_t *es = NULL;
    grow(&t, (size_t)view.len * 4 + 256);
    size_t ns = 0, ni = 0;
    const char *error;
    /* 10,000 interfaces are ~15 ms of formatting: the event loop runs meanwhile
     * (the caller is a worker thread then). */
    Py_BEGIN_ALLOW_THREADS;
    error = format_all(&r, &t, &es, &kept_es, &kept_es_cap, &ns, &ni);
    Py_END_ALLOW_THREADS;
    PyObject *result = NULL;
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        goto done;
    }
    if (t.failed || !es) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyDict_New();
    for (size_t k = 0; result && k < ns + ni; k++) {
        if (store(result, k < ns ? socket_tag : interface_tag, &t, &es[k], k < ns) < 0) Py_CLEAR(result);
    }
done:
    if (t.cap > ((size_t)8 << 20)) { /* not for ever: ~15,000 interfaces' worth */
        PyMem_RawFree(t.buf);
        t.buf = NULL;
        t.cap = 0;
    }
    kept = t; /* the buffer, grown or not, for the next call on this thread */
    PyBuffer_Release(&view);
    return result;
}
