/* libFuzzer target: control-message decoding, the handshake state machines fed
 * a sequence of messages from the input, and the receive path of a ring whose
 * descriptors and indices come from the input. None may read outside what it
 * was given (ASan checks), whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "handshake.h"
#include "ring.h"

static void fuzz_ctrl(const uint8_t *data, size_t size) {
    ctrl_msg_t m;
    if (wire_parse_msg(data, size, &m) == 0) {
        uint8_t out[MEMIF_MSG_SIZE];
        wire_build_msg(&m, out);
        ctrl_msg_t again;
        if (wire_parse_msg(out, sizeof(out), &again) != 0) abort(); /* encode must round-trip */
    }
}

/* The input as messages of 1 flag byte (bit 0: an fd came with it) + 128 bytes,
 * fed to a server after an accepted INIT and to a client from its first message. */
static void fuzz_handshake(const uint8_t *data, size_t size) {
    hs_server_t s;
    memset(&s, 0, sizeof(s));
    static hs_client_t c;
    memset(&c, 0, sizeof(c));
    hs_client_cfg_t cfg = {.id = 1, .log2 = 10, .rx_queues = 2, .tx_queues = 2,
                           .buffer_size = 2048, .secret = "", .app_name = "fuzz", .if_name = "x"};
    int server_done = 0, client_done = 0;
    for (; size >= 1 + MEMIF_MSG_SIZE; data += 1 + MEMIF_MSG_SIZE, size -= 1 + MEMIF_MSG_SIZE) {
        ctrl_msg_t m;
        if (wire_parse_msg(data + 1, MEMIF_MSG_SIZE, &m) != 0) continue;
        const char *why;
        if (!server_done && hs_server_msg(&s, &m, data[0] & 1, &why) == HS_FAIL) {
            if (!why) abort(); /* every refusal has a reason */
            server_done = 1;
        }
        if (s.n_regions > MAX_REGIONS || s.got_s2m > HS_MAX_QUEUES || s.got_m2s > HS_MAX_QUEUES)
            abort();
        if (client_done) continue;
        if (m.type == MSG_HELLO && c.n_out == 0 && hs_client_hello(&c, &cfg, &m)) {
            client_done = 1;
            continue;
        }
        int k;
        hs_client_step_t st = hs_client_msg(&c, &m, &k, &why);
        if (st == HS_C_FAIL) client_done = 1;
        if (st == HS_C_SEND && (k < 0 || k >= c.n_out)) abort();
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
    fuzz_handshake(data, size);
    fuzz_ring(data, size);
    return 0;
}
