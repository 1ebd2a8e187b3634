/* The memif data path on one ring: bursts in and out for either role, with
 * head/tail ownership and ordering of memif 2.0 (docs/dataplane.md, Data path).
 * No locks and no syscalls but the eventfd kick; the caller serializes access. */
#ifndef MEMIF_RING_H
#define MEMIF_RING_H

#include <stdint.h>

#include "memif_wire.h"

#define MAX_REGIONS 16
#define MAX_FRAME 65535u

typedef struct {
    uint8_t *addr;
    uint64_t size;
    int fd;
} region_t;

typedef struct {
    memif_ring_t *ring;
    uint16_t mask;       /* entries - 1 */
    uint16_t last;       /* master: last head seen (rx) / own tail (tx); slave: last tail seen */
    uint16_t head;       /* slave: own head */
    int efd;             /* eventfd shared with the peer */
    int efd_blocking;    /* the peer cleared O_NONBLOCK on it: no more kicks */
    uint32_t slot_base;  /* slave: offset of this ring's first buffer in region 0 */
    uint64_t packets, bytes, interrupts;
} queue_t;

typedef struct {
    region_t *regions;
    int n_regions;
    uint32_t buffer_size; /* slave: its buffer size */
    int master;
    uint64_t bad_desc, no_free_slots, tx_drops;
    /* The peer published head/tail more than a ring's worth ahead of us: the
     * excess is ignored, each sighting counted. */
    uint64_t overruns;
    uint32_t posted_size; /* master: the largest buffer the slave posted */
} ring_ctx_t;

/* Receive up to `max` frames. Frames are copied to `out` (frame i at out[off_i],
 * lengths in lens[]) unless out is NULL (count and release only). Invalid
 * descriptors are dropped and counted, never read. Returns frames received. */
int ring_rx(ring_ctx_t *c, queue_t *q, uint8_t *out, uint64_t out_cap, uint32_t *lens, int max,
            uint64_t *rx_bytes);
/* Transmit frames from `data` (concatenated) with lengths `lens`. Returns frames
 * sent; frames beyond ring space are not sent (counted in no_free_slots). */
int ring_tx(ring_ctx_t *c, queue_t *q, const uint8_t *data, const uint32_t *lens, int n);
/* Slave, after CONNECTED: post every M2S slot as an empty buffer. */
void ring_post_all(ring_ctx_t *c, queue_t *q);
/* Signal the peer unless it masked interrupts on this ring. */
void ring_kick(queue_t *q);
/* The eventfd is still non-blocking. The peer shares its file description and
 * can clear O_NONBLOCK at any time; a blocking write would stall the loop
 * (with its lock held), so every kick checks first. (Interrupts we receive are
 * never read: the loop takes them edge-triggered.) */
int ring_efd_nonblocking(queue_t *q);

#endif
