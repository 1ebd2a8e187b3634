/* Control messages: parse/build of the 128-byte datagrams. Pure functions:
 * no syscalls, so they are fuzzed and tested with byte vectors. */
#ifndef MEMIF_CTRL_H
#define MEMIF_CTRL_H

#include <stddef.h>
#include <stdint.h>

#include "memif_wire.h"

typedef struct {
    uint16_t type;
    union {
        struct {
            char name[MEMIF_NAME_LEN];
            uint16_t min_version, max_version, max_region, max_m2s_ring, max_s2m_ring;
            uint8_t max_log2_ring_size;
        } hello;
        struct {
            uint16_t version;
            uint32_t id;
            uint8_t mode;
            char secret[MEMIF_SECRET_LEN];
            char name[MEMIF_NAME_LEN];
        } init;
        struct {
            uint16_t index;
            uint64_t size;
        } add_region;
        struct {
            uint16_t flags, index, region;
            uint32_t offset;
            uint8_t log2_ring_size;
            uint16_t private_hdr_size;
        } add_ring;
        struct {
            char if_name[MEMIF_NAME_LEN];
        } connect; /* CONNECT and CONNECTED */
        struct {
            uint32_t code;
            char string[MEMIF_REASON_LEN];
        } disconnect;
    } u;
} ctrl_msg_t;

/* Returns 0, or -1 when `len` is not 128 or the type is unknown. Strings come
 * out NUL-terminated whatever the sender put in their fields. */
int wire_parse_msg(const uint8_t *buf, size_t len, ctrl_msg_t *out);
/* Writes exactly MEMIF_MSG_SIZE bytes (padding zeroed). */
void wire_build_msg(const ctrl_msg_t *m, uint8_t out[MEMIF_MSG_SIZE]);
/* Name of a message type, for logs and reasons. */
const char *ctrl_type_name(uint16_t type);

#endif
