/* memif 2.0 wire format (the layout libmemif's memif.h defines): constants, the 128-byte
 * control message, ring and descriptor layouts. Layouts only, no logic. */
#ifndef MEMIF_WIRE_H
#define MEMIF_WIRE_H

#include <stdint.h>

#define MEMIF_COOKIE 0x3E31F20u
#define MEMIF_VERSION 0x0200u
#define MEMIF_MSG_SIZE 128
#define MEMIF_CACHELINE 64
#define MEMIF_MAX_LOG2_RING 14
#define MEMIF_NAME_LEN 32
#define MEMIF_SECRET_LEN 24
#define MEMIF_REASON_LEN 96

enum {
    MSG_NONE = 0, MSG_ACK = 1, MSG_HELLO = 2, MSG_INIT = 3, MSG_ADD_REGION = 4,
    MSG_ADD_RING = 5, MSG_CONNECT = 6, MSG_CONNECTED = 7, MSG_DISCONNECT = 8,
};
enum { MODE_ETHERNET = 0, MODE_IP = 1, MODE_PUNT_INJECT = 2 };

#define ADD_RING_FLAG_S2M 1u
#define DESC_FLAG_NEXT 1u
#define RING_FLAG_MASK_INT 1u

typedef struct __attribute__((packed)) {
    uint16_t flags;
    uint16_t region;
    uint32_t length;
    uint32_t offset;
    uint32_t metadata;
} memif_desc_t;

typedef struct {
    uint32_t cookie;
    uint16_t flags;
    volatile uint16_t head;
    uint8_t pad0[MEMIF_CACHELINE - 8];
    volatile uint16_t tail;
    uint8_t pad1[MEMIF_CACHELINE - 2];
    memif_desc_t desc[];
} memif_ring_t;

_Static_assert(sizeof(memif_desc_t) == 16, "descriptor is 16 bytes");
_Static_assert(sizeof(memif_ring_t) == 2 * MEMIF_CACHELINE, "ring header is 2 cache lines");

static inline uint64_t ring_bytes(unsigned log2) {
    return sizeof(memif_ring_t) + sizeof(memif_desc_t) * ((uint64_t)1 << log2);
}

#endif
