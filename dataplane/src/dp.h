/* Dataplane state: sockets, interfaces, connections; one epoll thread. Every
 * field below is guarded by dp->lock (held by the loop while it works and by
 * each Python call), so Python and the loop never see half an update. */
#ifndef MEMIF_DP_H
#define MEMIF_DP_H

#include <pthread.h>
#include <stdint.h>

#include "ctrl.h"
#include "handshake.h"
#include "ring.h"

enum { ROLE_NONE = -1, ROLE_SERVER = 0, ROLE_CLIENT = 1 };
enum { ST_DISABLED, ST_LISTENING, ST_CONNECTING, ST_HANDSHAKE, ST_CONNECTED };
enum { EV_WAKE = 1, EV_LISTEN, EV_PENDING, EV_CTRL, EV_RXQ };
/* TRAFFIC_RX_COPY: a sink that copies every frame out of the ring, as a real
   receiver (DPDK into its mbufs) does; TRAFFIC_RX only counts them. */
enum { TRAFFIC_NONE, TRAFFIC_TX, TRAFFIC_RX, TRAFFIC_RX_COPY };

#define MAX_QUEUES HS_MAX_QUEUES

typedef struct dp dp_t;
typedef struct itf itf_t;

typedef struct {
    int type;
    void *obj;
    int q;
} evtag_t;

typedef struct sock {
    uint32_t id;
    char path[108];
    int listen_fd;
    int role;
    int perm;        /* file mode for the socket file, or -1 */
    long uid, gid;   /* owner and group, or -1 */
    char error[160];
    char refused[160]; /* the last peer refused at INIT, and why */
    int n_pending;     /* accepted connections that have not sent INIT yet */
    uint64_t dropped;  /* connections closed at once: too many pending, or no fds */
    double accept_resume; /* > 0: listen fd out of epoll until then (EMFILE backoff) */
    evtag_t ev;
    struct sock *next;
} sock_t;

typedef struct pending {
    int fd;
    sock_t *sock;
    double deadline; /* INIT must arrive before this */
    evtag_t ev;
    struct pending *next;
} pending_t;

struct itf {
    uint32_t sid, id;
    sock_t *sock;
    int role, mode, enabled;
    uint8_t log2_cfg, rxq_cfg, txq_cfg;
    uint32_t bsize_cfg;
    uint32_t bsize_run; /* agreed buffer size (the client's) */
    char secret[MEMIF_SECRET_LEN];
    char mac[18];
    int state;
    int fd;
    evtag_t ctrl_ev;
    double retry_at;
    double hs_deadline; /* ST_HANDSHAKE: the link must be up before this */
    int got_hello;      /* client: the server has spoken on this connection */
    int overrun_logged; /* a ring overrun was reported for this link */
    /* negotiated */
    uint8_t log2;
    uint16_t n_s2m, n_m2s;
    region_t regions[MAX_REGIONS];
    int n_regions;
    queue_t *s2m, *m2s; /* arrays of n_s2m / n_m2s */
    evtag_t *rx_ev;
    hs_server_t hs;             /* master: handshake state after INIT */
    hs_client_t hc;             /* slave: the planned lock-step exchange */
    int out_fd[HS_MAX_OUT];     /* slave: the fd sent with hc.out[k] */
    ring_ctx_t rc;
    char remote_name[MEMIF_NAME_LEN], remote_if[MEMIF_NAME_LEN];
    char local_reason[MEMIF_REASON_LEN], remote_reason[MEMIF_REASON_LEN];
    uint64_t rx_packets, rx_bytes, tx_packets, tx_bytes, rx_drops, interrupts;
    itf_t *xc;
    int python_rx;
    int traffic;
    uint32_t traffic_size;
    itf_t *next;
};

struct dp {
    pthread_mutex_t lock;
    pthread_t thread;
    int running;
    /* Bumped whenever an object an epoll event may point to is freed or its fd
     * closed: the loop drops the rest of a batch then (epoll is level
     * triggered, so live fds are reported again). */
    unsigned gen;
    int epfd, wake_fd, event_fd;
    char app_name[MEMIF_NAME_LEN];
    double hs_timeout; /* seconds from accept/connect to link up */
    int max_pending;   /* per socket */
    sock_t *sockets;
    itf_t *itfs;
    pending_t *pending;
    evtag_t wake_ev;
    /* link events and log lines for Python */
    struct dp_event {
        uint32_t sid, id;
        int kind; /* DP_EV_LINK or DP_EV_LOG */
        int up;
        char reason[160]; /* link: the reason; log: the message */
    } *events;
    int n_events, cap_events;
    uint8_t *scratch;
    uint32_t *scratch_lens;
    uint8_t *gen_frame;
};

enum { DP_EV_LINK, DP_EV_LOG };

#define DP_HS_TIMEOUT 3.0
#define DP_MAX_PENDING 64
#define DP_ACCEPT_BACKOFF 0.1
#define DP_HELLO_WAIT 30.0 /* client: seconds a server may stay silent after accept */

#define SCRATCH_FRAMES 256
#define SCRATCH_BYTES (SCRATCH_FRAMES * 9216u)

/* hs_timeout: seconds a connection may take from accept/connect to link up;
 * max_pending: connections per socket that may wait for their INIT. */
dp_t *dp_new(const char *app_name, double hs_timeout, int max_pending, char *err,
             size_t errlen);
void dp_free(dp_t *dp);
/* All return 0 or -1 with a readable message in err; call with dp->lock held. */
int dp_add_socket(dp_t *dp, uint32_t sid, const char *path, int perm, long uid, long gid,
                  char *err, size_t errlen);
int dp_remove_socket(dp_t *dp, uint32_t sid, char *err, size_t errlen);
int dp_add_interface(dp_t *dp, itf_t *tmpl, char *err, size_t errlen);
int dp_remove_interface(dp_t *dp, uint32_t sid, uint32_t id, char *err, size_t errlen);
int dp_set_enabled(dp_t *dp, uint32_t sid, uint32_t id, int up, char *err, size_t errlen);
int dp_set_xconnect(dp_t *dp, uint32_t sid, uint32_t id, int has_peer, uint32_t psid,
                    uint32_t pid, char *err, size_t errlen);
itf_t *dp_find(dp_t *dp, uint32_t sid, uint32_t id);
sock_t *dp_find_socket(dp_t *dp, uint32_t sid);
/* Queues seen from this interface: rx and tx arrays and counts. */
queue_t *itf_rxq(itf_t *i, int *n);
queue_t *itf_txq(itf_t *i, int *n);
void dp_wake(dp_t *dp);
/* After ring_rx/ring_tx on i: the first ring overrun of a link becomes a log event. */
void dp_note_ring(dp_t *dp, itf_t *i);
/* The buffer size the peer's descriptors offer (server role), 0 while unknown. */
uint32_t dp_buffer_size(itf_t *i);
/* Back to interrupt mode: the generator/sink polled with the peer's kicks masked. */
void dp_stop_traffic(itf_t *i);

#endif
