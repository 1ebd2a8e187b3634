/* dp_state_blob: the layout is in state_blob.h. */
#include "state_blob.h"

#include <string.h>

#include "dp.h"

typedef struct {
    uint8_t *buf;
    size_t cap, n;
} out_t;

static void put(out_t *o, const void *p, size_t len) {
    if (o->n + len <= o->cap) memcpy(o->buf + o->n, p, len);
    o->n += len;
}

/* Little endian whatever the host, as the agent reads it. */
static void u8(out_t *o, unsigned v) {
    uint8_t b = (uint8_t)v;
    put(o, &b, 1);
}
static void u16(out_t *o, unsigned v) {
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(o, b, 2);
}
static void u32(out_t *o, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(o, b, 4);
}
static void u64(out_t *o, uint64_t v) {
    u32(o, (uint32_t)v);
    u32(o, (uint32_t)(v >> 32));
}
/* A NUL-terminated field of at most `size` bytes (it may fill them all). */
static void str(out_t *o, const char *s, size_t size) {
    size_t len = strnlen(s, size);
    u16(o, (unsigned)len);
    put(o, s, len);
}

static unsigned role_code(int role) { return role == ROLE_SERVER ? 1 : role == ROLE_CLIENT ? 2 : 0; }

static void queue(out_t *o, queue_t *q) {
    u32(o, (uint32_t)q->mask + 1);
    u16(o, q->ring->head);
    u16(o, q->ring->tail);
    u64(o, q->packets);
    u64(o, q->bytes);
    u64(o, q->interrupts);
}

size_t dp_state_blob(dp_t *dp, uint8_t *buf, size_t cap) {
    out_t o = {buf, cap, 0};
    uint32_t ns = 0, ni = 0;
    for (sock_t *s = dp->sockets; s; s = s->next) ns++;
    for (itf_t *i = dp->itfs; i; i = i->next) ni++;
    put(&o, BLOB_MAGIC, 4);
    u32(&o, ns);
    u32(&o, ni);
    for (sock_t *s = dp->sockets; s; s = s->next) {
        uint32_t count = 0;
        for (itf_t *i = dp->itfs; i; i = i->next) count += i->sock == s;
        u32(&o, s->id);
        u8(&o, s->listen_fd >= 0);
        u8(&o, role_code(s->role));
        u16(&o, 0);
        u32(&o, count);
        u32(&o, (uint32_t)s->n_pending);
        u64(&o, s->dropped);
        str(&o, s->path, sizeof(s->path));
        str(&o, s->error, sizeof(s->error));
        str(&o, s->refused, sizeof(s->refused));
    }
    for (itf_t *i = dp->itfs; i; i = i->next) {
        int up = i->state == ST_CONNECTED, nrx = 0, ntx = 0;
        queue_t *rx = NULL, *tx = NULL;
        if (up) {
            rx = itf_rxq(i, &nrx);
            tx = itf_txq(i, &ntx);
        }
        u32(&o, i->sid);
        u32(&o, i->id);
        u8(&o, role_code(i->role));
        u8(&o, i->mode == MODE_IP);
        u8(&o, i->enabled != 0);
        u8(&o, (unsigned)i->state);
        u8(&o, up ? i->log2 : 0);
        u8(&o, up ? (unsigned)i->n_regions : 0);
        u16(&o, (unsigned)nrx);
        u16(&o, (unsigned)ntx);
        u16(&o, 0);
        u32(&o, up ? dp_buffer_size(i) : 0);
        u64(&o, i->rx_packets);
        u64(&o, i->rx_bytes);
        u64(&o, i->tx_packets);
        u64(&o, i->tx_bytes);
        u64(&o, i->rx_drops);
        u64(&o, i->rc.tx_drops);
        u64(&o, i->rc.bad_desc);
        u64(&o, i->rc.no_free_slots);
        u64(&o, i->rc.overruns);
        u64(&o, i->interrupts);
        str(&o, i->mac, sizeof(i->mac));
        str(&o, i->local_reason, sizeof(i->local_reason));
        str(&o, i->remote_reason, sizeof(i->remote_reason));
        str(&o, i->remote_name, sizeof(i->remote_name));
        str(&o, i->remote_if, sizeof(i->remote_if));
        for (int k = 0; k < nrx; k++) queue(&o, &rx[k]);
        for (int k = 0; k < ntx; k++) queue(&o, &tx[k]);
    }
    return o.n;
}
