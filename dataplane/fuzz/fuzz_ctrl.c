/* libFuzzer target: control-message decoding and the receive path of a ring
 * whose descriptors and indices come from the input. Neither may read outside
 * what it was given (ASan checks), whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "ring.h"

static void fuzz_ctrl(const uint8_t *data, size_t size) {
    ctrl_msg_t m;
    if (ctrl_decode(data, size, &m) == 0) {
        uint8_t out[MEMIF_MSG_SIZE];
        ctrl_encode(&m, out);
        ctrl_msg_t again;
        if (ctrl_decode(out, sizeof(out), &again) != 0) abort(); /* encode must round-trip */
    }
}

static void fuzz_ring(const uint8_t *data, size_t size) {
    enum { LOG2 = 4, N = 1 << LOG2, REGION = 4096 };
    if (size < 4 + N * sizeof(memif_desc_t)) return;
    /* region 0 holds the ring; region 1 is a small buffer area */
    static uint8_t region0[sizeof(memif_ring_t) + N * sizeof(memif_desc_t)];
    static uint8_t region1[REGION];
    memset(region0, 0, sizeof(region0));
    memif_ring_t *ring = (memif_ring_t *)region0;
    ring->cookie = MEMIF_COOKIE;
    memcpy((void *)&ring->head, data, 2);
    memcpy((void *)&ring->tail, data + 2, 2);
    memcpy(ring->desc, data + 4, N * sizeof(memif_desc_t));
    region_t regions[2] = {{region0, sizeof(region0), -1}, {region1, REGION, -1}};
    ring_ctx_t c = {.regions = regions, .n_regions = 2, .buffer_size = 256, .master = data[0] & 1};
    queue_t q = {.ring = ring, .mask = N - 1, .efd = -1, .last = data[1], .head = data[3]};
    static uint8_t out[N * 65536];
    uint32_t lens[N];
    uint64_t bytes = 0;
    ring_rx(&c, &q, out, sizeof(out), lens, N, &bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_ctrl(data, size);
    fuzz_ring(data, size);
    return 0;
}
