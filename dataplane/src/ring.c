#include "ring.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

int ring_efd_nonblocking(queue_t *q) {
    int fl = fcntl(q->efd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

void ring_kick(queue_t *q) {
    if (q->efd >= 0 && !q->efd_blocking && !(LOAD_ACQ(&q->ring->flags) & RING_FLAG_MASK_INT)) {
        if (!ring_efd_nonblocking(q)) {
            q->efd_blocking = 1; /* the caller drops the link */
            return;
        }
        uint64_t one = 1;
        ssize_t r = write(q->efd, &one, sizeof(one));
        (void)r; /* EAGAIN means the counter is already pending: the peer will wake */
    }
}

/* A descriptor the peer wrote: inside a region we mapped, and not empty. */
static int desc_ok(const ring_ctx_t *c, const memif_desc_t *d, uint32_t len) {
    if (d->region >= c->n_regions || len == 0) return 0;
    const region_t *r = &c->regions[d->region];
    return r->addr != NULL && (uint64_t)d->offset + len <= r->size;
}

static uint32_t slot_offset(const queue_t *q, const ring_ctx_t *c, uint16_t slot) {
    return q->slot_base + (uint32_t)(slot & q->mask) * c->buffer_size;
}

void ring_post_all(ring_ctx_t *c, queue_t *q) {
    uint16_t n = (uint16_t)(q->mask + 1u);
    for (uint16_t i = 0; i < n; i++) {
        memif_desc_t *d = &q->ring->desc[i];
        d->region = 0;
        d->offset = slot_offset(q, c, i);
        d->length = c->buffer_size;
        d->flags = 0;
    }
    q->head = (uint16_t)(q->last + n);
    STORE_REL(&q->ring->head, q->head);
}

int ring_rx(ring_ctx_t *c, queue_t *q, uint8_t *out, uint64_t out_cap, uint32_t *lens, int max,
            uint64_t *rx_bytes) {
    memif_ring_t *r = q->ring;
    uint16_t end = c->master ? LOAD_ACQ(&r->head) : LOAD_ACQ(&r->tail);
    uint16_t avail = (uint16_t)(end - q->last);
    if (avail > q->mask + 1u) { /* a lying peer: take one ring's worth, count it */
        avail = (uint16_t)(q->mask + 1u);
        c->overruns++;
    }
    uint16_t cur = q->last, stop = (uint16_t)(q->last + avail);
    int frames = 0;
    uint64_t used = 0;
    while (cur != stop && frames < max) {
        /* One frame: a chain of descriptors with NEXT on all but the last. */
        uint16_t start = cur;
        uint32_t flen = 0;
        int bad = 0, complete = 0;
        while (cur != stop) {
            memif_desc_t *d = &r->desc[cur & q->mask];
            uint32_t len = d->length;
            uint16_t flags = d->flags;
            cur++;
            if (!desc_ok(c, d, len) || flen + (uint64_t)len > MAX_FRAME) {
                bad = 1;
            } else if (!bad && out) {
                if (used + flen + len > out_cap) {
                    cur = start; /* no room: leave the frame for the next burst */
                    goto done;
                }
                memcpy(out + used + flen, c->regions[d->region].addr + d->offset, len);
            }
            flen += len;
            if (!(flags & DESC_FLAG_NEXT)) {
                complete = 1;
                break;
            }
        }
        if (!complete) {
            cur = start; /* the rest of the chain is not published yet */
            break;
        }
        if (bad) {
            c->bad_desc++;
            continue;
        }
        if (lens) lens[frames] = flen;
        used += flen;
        frames++;
        q->packets++;
        q->bytes += flen;
        if (rx_bytes) *rx_bytes += flen;
    }
done:;
    uint16_t consumed = (uint16_t)(cur - q->last);
    q->last = cur;
    if (consumed) {
        if (c->master) {
            STORE_REL(&r->tail, cur); /* buffers back to the slave */
        } else {
            /* Re-post the consumed slots as empty buffers at their own offsets. */
            for (uint16_t i = 0; i < consumed; i++) {
                memif_desc_t *d = &r->desc[(uint16_t)(q->head + i) & q->mask];
                d->region = 0;
                d->offset = slot_offset(q, c, (uint16_t)(q->head + i));
                d->length = c->buffer_size;
                d->flags = 0;
            }
            q->head = (uint16_t)(q->head + consumed);
            STORE_REL(&r->head, q->head);
        }
    }
    return frames;
}

int ring_tx(ring_ctx_t *c, queue_t *q, const uint8_t *data, const uint32_t *lens, int n) {
    memif_ring_t *r = q->ring;
    uint16_t size = (uint16_t)(q->mask + 1u);
    uint16_t cur, free_slots;
    if (c->master) {
        cur = q->last; /* own tail */
        free_slots = (uint16_t)(LOAD_ACQ(&r->head) - cur);
        if (free_slots > size) {
            free_slots = size;
            c->overruns++;
        }
    } else {
        cur = q->head;
        free_slots = (uint16_t)(size - (uint16_t)(cur - LOAD_ACQ(&r->tail)));
        if (free_slots > size) { /* tail beyond our own head */
            free_slots = 0;
            c->overruns++;
        }
    }
    uint16_t limit = (uint16_t)(cur + free_slots);
    int sent = 0;
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        uint32_t left = lens[i], pos = 0;
        uint16_t start = cur;
        int ok = left > 0;
        while (ok && left) {
            if (cur == limit) {
                ok = 0;
                break;
            }
            memif_desc_t *d = &r->desc[cur & q->mask];
            uint32_t cap;
            if (c->master) {
                cap = d->length; /* what the slave posted */
                if (!desc_ok(c, d, cap)) {
                    c->bad_desc++;
                    ok = 0;
                    break;
                }
                if (cap > c->posted_size) c->posted_size = cap;
            } else {
                d->region = 0;
                d->offset = slot_offset(q, c, cur);
                cap = c->buffer_size;
            }
            uint32_t chunk = left < cap ? left : cap;
            memcpy(c->regions[d->region].addr + d->offset, data + off + pos, chunk);
            d->length = chunk;
            pos += chunk;
            left -= chunk;
            d->flags = left ? DESC_FLAG_NEXT : 0;
            cur++;
        }
        if (!ok) {
            cur = start; /* never publish half a chain */
            c->no_free_slots++;
            break;
        }
        off += lens[i];
        q->packets++;
        q->bytes += lens[i];
        sent++;
    }
    if (sent) {
        if (c->master) {
            q->last = cur;
            STORE_REL(&r->tail, cur);
        } else {
            q->head = cur;
            STORE_REL(&r->head, cur);
        }
        ring_kick(q);
    }
    return sent;
}
