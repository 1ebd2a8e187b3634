/* The dataplane's operational state in a compact binary form, made by the
 * dataplane process (dp_state_blob, under dp->lock) and turned into XML text
 * by the agent (memif_format_state), which trusts none of it: the process
 * maps memory a memif peer writes into.
 *
 * Why not a dict per interface: 1,000 interfaces are ~50,000 values, and
 * building, JSON-encoding, decoding and checking them cost >10x a
 * get-config of the same interfaces before any XML was made.
 *
 * Little endian, packed, no alignment:
 *   header     "MSB1" | u32 n_sockets | u32 n_interfaces
 *   socket     u32 id | u8 listening | u8 role | u16 0 | u32 interface_count
 *              | u32 pending | u64 dropped | str filename | str error | str refused
 *   interface  u32 socket_id | u32 id | u8 role | u8 mode | u8 enabled | u8 state
 *              | u8 ring_log2 | u8 regions | u16 rx_queues | u16 tx_queues | u16 0
 *              | u32 buffer_size | u64 counters[BLOB_COUNTERS]
 *              | str mac | str local_reason | str remote_reason | str remote_name
 *              | str remote_interface_name
 *              | (state == connected only) queue[rx_queues + tx_queues], rx first
 *   queue      u32 ring_size | u16 head | u16 tail | u64 packets | u64 bytes
 *              | u64 interrupts
 *   str        u16 length | length bytes (as the peer sent them: not text yet)
 * role: 0 none (sockets only), 1 server, 2 client. mode: 0 ethernet, 1 ip.
 * state: 0 disabled, 1 listening, 2 connecting, 3 handshake, 4 connected. */
#ifndef MEMIF_STATE_BLOB_H
#define MEMIF_STATE_BLOB_H

#include <stddef.h>
#include <stdint.h>

#define BLOB_MAGIC "MSB1"
#define BLOB_COUNTERS 10
#define BLOB_HEADER 12
#define BLOB_SOCKET_FIXED 24
#define BLOB_ITF_FIXED (24 + 8 * BLOB_COUNTERS)
#define BLOB_QUEUE 32
/* Bounds the agent holds the blob to (a real one is far inside them). */
#define BLOB_MAX_ITEMS 100000
#define BLOB_MAX_QUEUES 512
#define BLOB_MAX_STRING 4096

struct dp;
/* Writes the blob into buf (when cap allows) and returns its size; call it
 * with cap 0 to learn the size. dp->lock held. */
size_t dp_state_blob(struct dp *dp, uint8_t *buf, size_t cap);

#endif
