/* What the dataplane's C files share with each other and not with module.c:
 * loop.c (epoll, events, traffic), sockets.c (socket files and accepted
 * connections), interfaces.c (interfaces and their connection resources),
 * handshake_io.c (the handshake on file descriptors). All called with
 * dp->lock held. */
#ifndef MEMIF_DP_INTERNAL_H
#define MEMIF_DP_INTERNAL_H

#include "ctrl_io.h"
#include "dp.h"

/* ---- loop.c ---- */
double dp_now(void); /* CLOCK_MONOTONIC seconds */
int dp_ep_add(dp_t *dp, int fd, evtag_t *tag); /* EPOLLIN, level-triggered */
int dp_ep_add_events(dp_t *dp, int fd, uint32_t events, evtag_t *tag);
void dp_ep_del(dp_t *dp, int fd);
/* An event for Python (DP_EV_LINK or DP_EV_LOG) about interface i. */
void dp_push(dp_t *dp, itf_t *i, int kind, int up, const char *text);
void dp_push_link(dp_t *dp, itf_t *i, int up, const char *reason);

/* ---- sockets.c ---- */
int sock_listen(dp_t *dp, sock_t *s, char *err, size_t n);
void sock_unlisten(dp_t *dp, sock_t *s);
/* Interfaces on s of `role` (ROLE_NONE: any). */
int sock_users(dp_t *dp, sock_t *s, int role);
void sock_on_accept(dp_t *dp, sock_t *s);
void sock_drop_pending(dp_t *dp, pending_t *p);

/* ---- interfaces.c ---- */
int itf_idle_state(itf_t *i);
int itf_alloc_queues(itf_t *i);
void itf_link_up(dp_t *dp, itf_t *i);
/* Unmap, close, forget the connection; a link that was up goes down with `reason`. */
void itf_teardown(dp_t *dp, itf_t *i, const char *local_reason);
/* DISCONNECT with `reason` to the peer, then itf_teardown. */
void itf_disconnect(dp_t *dp, itf_t *i, const char *reason);

/* ---- handshake_io.c ---- */
void hsio_on_pending(dp_t *dp, pending_t *p); /* the first message (INIT) of an accepted peer */
void hsio_on_ctrl(dp_t *dp, itf_t *i);        /* a message on an interface's connection */
void hsio_client_connect(dp_t *dp, itf_t *i);

#endif
