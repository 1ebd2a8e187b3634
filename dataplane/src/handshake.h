/* The memif control-channel handshake (docs/dataplane.md, Behaviour) as two pure
 * state machines, one per role: decoded messages in, decisions out. No syscalls
 * and no shared memory: handshake_io.c maps regions, creates memfds and eventfds
 * and sends what these decide, and tests drive them with byte vectors
 * (tests/test_dp_handshake.py through dataplane/fuzz/hs_driver.c). */
#ifndef MEMIF_HANDSHAKE_H
#define MEMIF_HANDSHAKE_H

#include <stdint.h>

#include "ctrl.h"
#include "ring.h"

#define HS_MAX_QUEUES 255
#define HS_MAX_OUT (3 + 2 * HS_MAX_QUEUES) /* INIT, ADD_REGION, rings, CONNECT */
#define HS_MAX_REGION (1ull << 32)           /* bytes a region may announce */

/* ---- server (master) ------------------------------------------------------------------ */

/* The HELLO a server sends on accept. */
void hs_hello(ctrl_msg_t *out, const char *app_name);

/* What the server knows of the interface an INIT names. */
typedef struct {
    int found;     /* an interface with this id exists on the socket */
    int is_server; /* ...and it is a server interface */
    int enabled;
    int connected; /* it already has a peer */
    int mode;
    const char *secret; /* "" = none */
} hs_itf_view_t;

/* NULL if the INIT may go on, else the DISCONNECT reason. */
const char *hs_check_init(const ctrl_msg_t *m, const hs_itf_view_t *v);

typedef struct {
    uint16_t n_regions;
    uint64_t region_size[MAX_REGIONS];
    uint16_t got_s2m, got_m2s;
    uint8_t log2; /* of the rings so far; 0 before the first */
} hs_server_t;

typedef enum {
    HS_FAIL,       /* disconnect with *why */
    HS_MAP_REGION, /* map the message's fd as region `index` of `size`, then ACK */
    HS_ADD_RING,   /* take the ring at region/offset and its eventfd, then ACK */
    HS_CONNECT,    /* check the ring cookies, answer CONNECTED, the link is up */
} hs_server_step_t;

/* After an accepted INIT: judge one message (`has_fd`: it came with a file
 * descriptor). The state advances with every step but HS_FAIL. */
hs_server_step_t hs_server_msg(hs_server_t *s, const ctrl_msg_t *m, int has_fd, const char **why);

/* ---- client (slave) ------------------------------------------------------------------- */

typedef struct {
    uint32_t id;
    int mode;
    uint8_t log2; /* wanted ring size */
    uint16_t rx_queues, tx_queues; /* wanted: M2S and S2M ring counts */
    uint32_t buffer_size;
    const char *secret, *app_name, *if_name;
} hs_client_cfg_t;

typedef struct {
    /* negotiated from the server's HELLO */
    uint8_t log2;
    uint16_t n_s2m, n_m2s;
    /* region 0 layout: S2M rings, then M2S rings, then every ring's buffers */
    uint64_t ring_bytes, buf_off, region_size;
    /* the messages to send in lock step, each after the previous one's ACK;
     * fd_of[k]: -1 none, HS_FD_REGION the region's memfd, else the eventfd of
     * ring fd_of[k] (0..n_s2m-1 S2M, then M2S) */
    ctrl_msg_t out[HS_MAX_OUT];
    int fd_of[HS_MAX_OUT];
    int n_out, next_out;
} hs_client_t;

#define HS_FD_REGION (-2)

/* On the server's HELLO: negotiate and plan the whole exchange. NULL or the
 * DISCONNECT reason. */
const char *hs_client_hello(hs_client_t *c, const hs_client_cfg_t *cfg, const ctrl_msg_t *hello);

/* Offset in region 0 of ring g (S2M first) and of its first buffer. */
uint64_t hs_ring_offset(const hs_client_t *c, unsigned g);
uint64_t hs_slot_base(const hs_client_t *c, unsigned g, uint32_t buffer_size);

typedef enum {
    HS_C_FAIL, /* disconnect with *why */
    HS_C_SEND, /* send out[k] with its fd, k = the returned index in *next */
    HS_C_UP,   /* CONNECTED: the link is up */
} hs_client_step_t;

/* Any message after the connection is made: HELLO starts the plan (call
 * hs_client_hello first), ACK releases the next message, CONNECTED ends it. */
hs_client_step_t hs_client_msg(hs_client_t *c, const ctrl_msg_t *m, int *next, const char **why);

#endif
