#include "ctrl.h"

#include <string.h>

/* Little-endian field access at fixed offsets, independent of host packing. */
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

/* Peers (libmemif) leave garbage after the NUL: copy at most n-1 bytes and stop there. */
static void rdstr(char *dst, const uint8_t *src, size_t n) {
    size_t i = 0;
    for (; i + 1 < n && src[i]; i++) dst[i] = (char)src[i];
    dst[i] = 0;
}
static void wrstr(uint8_t *dst, const char *src, size_t n) {
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
}

int wire_parse_msg(const uint8_t *b, size_t len, ctrl_msg_t *m) {
    if (len != MEMIF_MSG_SIZE) return -1;
    memset(m, 0, sizeof(*m));
    m->type = rd16(b);
    switch (m->type) {
    case MSG_ACK:
        return 0;
    case MSG_HELLO:
        rdstr(m->u.hello.name, b + 2, MEMIF_NAME_LEN);
        m->u.hello.min_version = rd16(b + 34);
        m->u.hello.max_version = rd16(b + 36);
        m->u.hello.max_region = rd16(b + 38);
        m->u.hello.max_m2s_ring = rd16(b + 40);
        m->u.hello.max_s2m_ring = rd16(b + 42);
        m->u.hello.max_log2_ring_size = b[44];
        return 0;
    case MSG_INIT:
        m->u.init.version = rd16(b + 2);
        m->u.init.id = rd32(b + 4);
        m->u.init.mode = b[8];
        rdstr(m->u.init.secret, b + 9, MEMIF_SECRET_LEN);
        rdstr(m->u.init.name, b + 33, MEMIF_NAME_LEN);
        return 0;
    case MSG_ADD_REGION:
        m->u.add_region.index = rd16(b + 2);
        m->u.add_region.size = rd64(b + 4);
        return 0;
    case MSG_ADD_RING:
        m->u.add_ring.flags = rd16(b + 2);
        m->u.add_ring.index = rd16(b + 4);
        m->u.add_ring.region = rd16(b + 6);
        m->u.add_ring.offset = rd32(b + 8);
        m->u.add_ring.log2_ring_size = b[12];
        m->u.add_ring.private_hdr_size = rd16(b + 13);
        return 0;
    case MSG_CONNECT:
    case MSG_CONNECTED:
        rdstr(m->u.connect.if_name, b + 2, MEMIF_NAME_LEN);
        return 0;
    case MSG_DISCONNECT:
        m->u.disconnect.code = rd32(b + 2);
        rdstr(m->u.disconnect.string, b + 6, MEMIF_REASON_LEN);
        return 0;
    default:
        return -1;
    }
}

void wire_build_msg(const ctrl_msg_t *m, uint8_t b[MEMIF_MSG_SIZE]) {
    memset(b, 0, MEMIF_MSG_SIZE);
    wr16(b, m->type);
    switch (m->type) {
    case MSG_HELLO:
        wrstr(b + 2, m->u.hello.name, MEMIF_NAME_LEN);
        wr16(b + 34, m->u.hello.min_version);
        wr16(b + 36, m->u.hello.max_version);
        wr16(b + 38, m->u.hello.max_region);
        wr16(b + 40, m->u.hello.max_m2s_ring);
        wr16(b + 42, m->u.hello.max_s2m_ring);
        b[44] = m->u.hello.max_log2_ring_size;
        break;
    case MSG_INIT:
        wr16(b + 2, m->u.init.version);
        wr32(b + 4, m->u.init.id);
        b[8] = m->u.init.mode;
        wrstr(b + 9, m->u.init.secret, MEMIF_SECRET_LEN);
        wrstr(b + 33, m->u.init.name, MEMIF_NAME_LEN);
        break;
    case MSG_ADD_REGION:
        wr16(b + 2, m->u.add_region.index);
        wr64(b + 4, m->u.add_region.size);
        break;
    case MSG_ADD_RING:
        wr16(b + 2, m->u.add_ring.flags);
        wr16(b + 4, m->u.add_ring.index);
        wr16(b + 6, m->u.add_ring.region);
        wr32(b + 8, m->u.add_ring.offset);
        b[12] = m->u.add_ring.log2_ring_size;
        wr16(b + 13, m->u.add_ring.private_hdr_size);
        break;
    case MSG_CONNECT:
    case MSG_CONNECTED:
        wrstr(b + 2, m->u.connect.if_name, MEMIF_NAME_LEN);
        break;
    case MSG_DISCONNECT:
        wr32(b + 2, m->u.disconnect.code);
        wrstr(b + 6, m->u.disconnect.string, MEMIF_REASON_LEN);
        break;
    default:
        break;
    }
}

const char *ctrl_type_name(uint16_t t) {
    static const char *names[] = {"NONE", "ACK", "HELLO", "INIT", "ADD_REGION",
                                  "ADD_RING", "CONNECT", "CONNECTED", "DISCONNECT"};
    return t < sizeof(names) / sizeof(names[0]) ? names[t] : "UNKNOWN";
}
