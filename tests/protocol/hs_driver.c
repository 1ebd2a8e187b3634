/* Test driver for dataplane/src/handshake.c: feeds it 128-byte control messages
 * read as hex from stdin (one per line: "<256 hex digits> <has_fd>") and prints
 * each decision, so tests/protocol/test_dp_handshake.py checks the handshake with byte
 * vectors and no sockets.
 *
 *   hs_driver server <secret|-> <mode> <found> <is_server> <enabled> <connected>
 *   hs_driver client <id> <mode> <log2> <rx_queues> <tx_queues> <buffer_size> <secret|->
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl.h"
#include "handshake.h"

static void hex(const ctrl_msg_t *m) {
    uint8_t b[MEMIF_MSG_SIZE];
    wire_build_msg(m, b);
    for (int k = 0; k < MEMIF_MSG_SIZE; k++) printf("%02x", b[k]);
}

static int read_msg(ctrl_msg_t *m, int *has_fd, int *decoded) {
    char line[512];
    if (!fgets(line, sizeof(line), stdin)) return 0;
    uint8_t b[MEMIF_MSG_SIZE];
    for (int k = 0; k < MEMIF_MSG_SIZE; k++) {
        unsigned v;
        if (sscanf(line + 2 * k, "%2x", &v) != 1) return 0;
        b[k] = (uint8_t)v;
    }
    *has_fd = atoi(line + 2 * MEMIF_MSG_SIZE);
    *decoded = wire_parse_msg(b, sizeof(b), m) == 0;
    return 1;
}

static int server(char **argv) {
    const char *secret = strcmp(argv[0], "-") ? argv[0] : "";
    hs_itf_view_t v = {.secret = secret, .mode = atoi(argv[1]), .found = atoi(argv[2]),
                       .is_server = atoi(argv[3]), .enabled = atoi(argv[4]),
                       .connected = atoi(argv[5])};
    ctrl_msg_t m;
    hs_hello(&m, "driver");
    printf("HELLO ");
    hex(&m);
    printf("\n");
    int has_fd, ok, first = 1;
    hs_server_t s;
    memset(&s, 0, sizeof(s));
    while (read_msg(&m, &has_fd, &ok)) {
        const char *why = NULL;
        if (!ok) {
            printf("FAIL malformed message\n");
            return 0;
        }
        if (first) {
            first = 0;
            why = hs_check_init(&m, &v);
            if (why) { printf("FAIL %s\n", why); return 0; }
            printf("ACK\n");
            continue;
        }
        switch (hs_server_msg(&s, &m, has_fd, &why)) {
        case HS_FAIL: printf("FAIL %s\n", why); return 0;
        case HS_MAP_REGION:
            printf("MAP_REGION %u %llu\n", m.u.add_region.index,
                   (unsigned long long)m.u.add_region.size);
            break;
        case HS_ADD_RING:
            printf("ADD_RING %s %u region %u offset %u log2 %u\n",
                   (m.u.add_ring.flags & ADD_RING_FLAG_S2M) ? "s2m" : "m2s", m.u.add_ring.index,
                   m.u.add_ring.region, m.u.add_ring.offset, m.u.add_ring.log2_ring_size);
            break;
        case HS_CONNECT: printf("CONNECT %u s2m %u m2s log2 %u\n", s.got_s2m, s.got_m2s, s.log2); break;
        }
    }
    return 0;
}

static int client(char **argv) {
    hs_client_cfg_t cfg = {.id = (uint32_t)atol(argv[0]), .mode = atoi(argv[1]),
                           .log2 = (uint8_t)atoi(argv[2]), .rx_queues = (uint16_t)atoi(argv[3]),
                           .tx_queues = (uint16_t)atoi(argv[4]),
                           .buffer_size = (uint32_t)atol(argv[5]),
                           .secret = strcmp(argv[6], "-") ? argv[6] : "", .app_name = "driver",
                           .if_name = "memif1/2"};
    static hs_client_t c;
    ctrl_msg_t m;
    int has_fd, ok;
    while (read_msg(&m, &has_fd, &ok)) {
        const char *why = NULL;
        int k = 0;
        if (!ok) { printf("FAIL malformed message\n"); return 0; }
        if (m.type == MSG_HELLO && c.n_out == 0) {
            why = hs_client_hello(&c, &cfg, &m);
            if (why) { printf("FAIL %s\n", why); return 0; }
            printf("PLAN log2 %u s2m %u m2s %u region %llu\n", c.log2, c.n_s2m, c.n_m2s,
                   (unsigned long long)c.region_size);
        }
        switch (hs_client_msg(&c, &m, &k, &why)) {
        case HS_C_FAIL: printf("FAIL %s\n", why); return 0;
        case HS_C_UP: printf("UP\n"); break;
        case HS_C_SEND:
            printf("SEND %d fd %d ", k, c.fd_of[k]);
            hex(&c.out[k]);
            printf("\n");
            break;
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 8 && !strcmp(argv[1], "server")) return server(argv + 2);
    if (argc == 9 && !strcmp(argv[1], "client")) return client(argv + 2);
    fprintf(stderr, "usage: see the comment at the top of hs_driver.c\n");
    return 2;
}
