/* The handshake's I/O in both roles: reads each control message, lets
 * handshake.c decide, and does what it decided: maps the server's view of the
 * peer's regions, builds the client's memfd region and eventfds, sends the
 * replies. Peer fds pass peer_fds.c's checks before use. */
#define _GNU_SOURCE
#include "dp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer_fds.h"

/* ---- server (master) side ----------------------------------------------------------------- */

/* NULL or the refusal; *out is the interface the INIT names, if any, either way. */
static const char *check_init(dp_t *dp, sock_t *s, const ctrl_msg_t *m, itf_t **out) {
    itf_t *i = m->type == MSG_INIT ? dp_find(dp, s->id, m->u.init.id) : NULL;
    hs_itf_view_t v = {
        .found = i != NULL,
        .is_server = i && i->role == ROLE_SERVER,
        .enabled = i && i->enabled,
        .connected = i && i->fd >= 0,
        .mode = i ? i->mode : 0,
        .secret = i ? i->secret : "",
    };
    *out = i;
    return hs_check_init(m, &v);
}

void hsio_on_pending(dp_t *dp, pending_t *p) {
    uint8_t buf[MEMIF_MSG_SIZE + 1];
    int fd_in;
    ssize_t n = wire_recv_msg(p->fd, buf, sizeof(buf), &fd_in);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (fd_in >= 0) close(fd_in); /* INIT carries no fd */
    ctrl_msg_t m;
    if (n <= 0) { sock_drop_pending(dp, p); return; }
    if (wire_parse_msg(buf, (size_t)n, &m) != 0) {
        wire_send_disconnect(p->fd, "malformed message");
        sock_drop_pending(dp, p);
        return;
    }
    itf_t *i = NULL;
    const char *why = check_init(dp, p->sock, &m, &i);
    if (why) {
        /* Shown in our state too (the socket's, and the named interface's), else
         * only the peer would know why the link does not come up. */
        const char *peer = m.type == MSG_INIT && m.u.init.name[0] ? m.u.init.name : "a peer";
        if (m.type == MSG_INIT)
            snprintf(p->sock->refused, sizeof(p->sock->refused), "%s for interface %u: %s",
                     peer, m.u.init.id, why);
        else
            snprintf(p->sock->refused, sizeof(p->sock->refused), "%s: %s", peer, why);
        if (i && i->state != ST_CONNECTED)
            snprintf(i->local_reason, sizeof(i->local_reason), "refused %s: %s", peer, why);
        wire_send_disconnect(p->fd, why);
        sock_drop_pending(dp, p);
        return;
    }
    if (itf_alloc_queues(i) != 0) { wire_send_disconnect(p->fd, "out of memory"); sock_drop_pending(dp, p); return; }
    double deadline = p->deadline; /* the bound runs from accept, not from INIT */
    dp_ep_del(dp, p->fd);
    i->fd = p->fd;
    p->fd = -1;
    sock_drop_pending(dp, p);
    i->ctrl_ev = (evtag_t){.type = EV_CTRL, .obj = i};
    dp_ep_add(dp, i->fd, &i->ctrl_ev);
    i->state = ST_HANDSHAKE;
    i->hs_deadline = deadline;
    snprintf(i->remote_name, sizeof(i->remote_name), "%s", m.u.init.name);
    memset(&i->hs, 0, sizeof(i->hs));
    wire_send_ack(i->fd);
}

/* Does what hs_server_msg decided: the mappings, the ACKs, the link. */
static const char *server_msg(dp_t *dp, itf_t *i, const ctrl_msg_t *m, int *fd_in) {
    const char *why = NULL;
    switch (hs_server_msg(&i->hs, m, *fd_in >= 0, &why)) {
    case HS_FAIL:
        return why;
    case HS_MAP_REGION: {
        uint64_t size = m->u.add_region.size;
        const char *bad = peer_region_fd_check(*fd_in, size);
        if (bad) return bad;
        void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd_in, 0);
        if (a == MAP_FAILED) return "cannot map region";
        i->regions[i->n_regions++] = (region_t){.addr = a, .size = size, .fd = *fd_in};
        *fd_in = -1;
        return wire_send_ack(i->fd) ? "send failed" : NULL;
    }
    case HS_ADD_RING: {
        const typeof(m->u.add_ring) *r = &m->u.add_ring;
        queue_t *q = (r->flags & ADD_RING_FLAG_S2M) ? &i->s2m[r->index] : &i->m2s[r->index];
        memset(q, 0, sizeof(*q));
        q->ring = (memif_ring_t *)(i->regions[r->region].addr + r->offset);
        q->mask = (uint16_t)((1u << r->log2_ring_size) - 1);
        const char *bad = peer_interrupt_fd_check(*fd_in);
        if (bad) return bad;
        q->efd = *fd_in;
        *fd_in = -1;
        return wire_send_ack(i->fd) ? "send failed" : NULL;
    }
    case HS_CONNECT: {
        /* Again, now that the peer had time to change its files: the rings
         * below are about to be read. */
        for (int r = 0; r < i->n_regions; r++) {
            const char *bad = peer_region_fd_check(i->regions[r].fd, i->regions[r].size);
            if (bad) return bad;
        }
        for (int k = 0; k < i->hs.got_s2m; k++)
            if (i->s2m[k].ring->cookie != MEMIF_COOKIE) return "wrong cookie";
        for (int k = 0; k < i->hs.got_m2s; k++)
            if (i->m2s[k].ring->cookie != MEMIF_COOKIE) return "wrong cookie";
        i->n_s2m = i->hs.got_s2m;
        i->n_m2s = i->hs.got_m2s;
        i->log2 = i->hs.log2;
        /* The buffer size is never sent: read what the client set up in its
         * first M2S descriptor, for the operational state only. */
        uint32_t len = i->m2s[0].ring->desc[0].length;
        i->bsize_run = len <= MAX_FRAME ? len : 0;
        snprintf(i->remote_if, sizeof(i->remote_if), "%s", m->u.connect.if_name);
        ctrl_msg_t c = {.type = MSG_CONNECTED};
        snprintf(c.u.connect.if_name, sizeof(c.u.connect.if_name), "memif%u/%u", i->sid, i->id);
        if (wire_send_msg(i->fd, &c, -1)) return "send failed";
        itf_link_up(dp, i);
        return NULL;
    }
    }
    return "unexpected message";
}

/* ---- client (slave) side ------------------------------------------------------------------ */

void hsio_client_connect(dp_t *dp, itf_t *i) {
    i->retry_at = dp_now() + 1.0;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", i->sock->path);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        snprintf(i->local_reason, sizeof(i->local_reason), "connect: %s", strerror(errno));
        close(fd);
        return;
    }
    if (itf_alloc_queues(i) != 0) { close(fd); return; }
    i->fd = fd;
    i->ctrl_ev = (evtag_t){.type = EV_CTRL, .obj = i};
    dp_ep_add(dp, fd, &i->ctrl_ev);
    i->state = ST_HANDSHAKE;
    /* The bound starts at the server's HELLO: a server may accept long before
     * it speaks (DPDK while it initializes), and cutting it off then is no
     * defence, since it is the only server we may connect to. A server that
     * never speaks is left after DP_HELLO_WAIT. */
    i->hs_deadline = dp_now() + (dp->hs_timeout > DP_HELLO_WAIT ? dp->hs_timeout : DP_HELLO_WAIT);
    i->got_hello = 0;
}

/* Plans the exchange (hs_client_hello), then builds what it needs: region 0 in
 * a sealed memfd, the rings with every buffer described, an eventfd per ring. */
static const char *client_hello(dp_t *dp, itf_t *i, const ctrl_msg_t *m) {
    char if_name[MEMIF_NAME_LEN];
    snprintf(if_name, sizeof(if_name), "memif%u/%u", i->sid, i->id);
    hs_client_cfg_t cfg = {
        .id = i->id,
        .mode = i->mode,
        .log2 = i->log2_cfg,
        .rx_queues = i->rxq_cfg,
        .tx_queues = i->txq_cfg,
        .buffer_size = i->bsize_cfg,
        .secret = i->secret,
        .app_name = dp->app_name,
        .if_name = if_name,
    };
    hs_client_t *c = &i->hc;
    const char *why = hs_client_hello(c, &cfg, m);
    if (why) return why;
    snprintf(i->remote_name, sizeof(i->remote_name), "%s", m->u.hello.name);
    i->log2 = c->log2;
    i->n_s2m = c->n_s2m;
    i->n_m2s = c->n_m2s;
    int fd = memfd_create("memif region 0", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    if (fd < 0) return "memfd_create failed";
    if (ftruncate(fd, (off_t)c->region_size) != 0) { close(fd); return "cannot size region"; }
    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
    void *a = mmap(NULL, c->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED) { close(fd); return "cannot map region"; }
    i->regions[0] = (region_t){.addr = a, .size = c->region_size, .fd = fd};
    i->n_regions = 1;
    i->rc.buffer_size = i->bsize_cfg;
    i->bsize_run = i->bsize_cfg;
    uint64_t n = 1ull << c->log2;
    unsigned rings = (unsigned)c->n_s2m + c->n_m2s;
    for (unsigned g = 0; g < rings; g++) {
        memif_ring_t *ring = (memif_ring_t *)((uint8_t *)a + hs_ring_offset(c, g));
        ring->cookie = MEMIF_COOKIE;
        ring->flags = 0;
        ring->head = ring->tail = 0;
        queue_t *q = g < c->n_s2m ? &i->s2m[g] : &i->m2s[g - c->n_s2m];
        memset(q, 0, sizeof(*q));
        q->ring = ring;
        q->mask = (uint16_t)(n - 1);
        q->slot_base = (uint32_t)hs_slot_base(c, g, i->bsize_cfg);
        q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (q->efd < 0) return "eventfd failed";
        for (uint64_t j = 0; j < n; j++)
            ring->desc[j] = (memif_desc_t){.region = 0,
                                            .offset = (uint32_t)(q->slot_base + j * i->bsize_cfg),
                                            .length = i->bsize_cfg};
    }
    for (int k = 0; k < c->n_out; k++) {
        int g = c->fd_of[k];
        i->out_fd[k] = g == -1           ? -1
                       : g == HS_FD_REGION ? fd
                       : g < c->n_s2m      ? i->s2m[g].efd
                                           : i->m2s[g - c->n_s2m].efd;
    }
    return NULL;
}

static const char *client_msg(dp_t *dp, itf_t *i, const ctrl_msg_t *m) {
    if (!i->got_hello) {
        i->got_hello = 1;
        i->hs_deadline = dp_now() + dp->hs_timeout;
    }
    if (m->type == MSG_HELLO && i->hc.n_out == 0) {
        const char *why = client_hello(dp, i, m);
        if (why) return why;
    }
    int k = 0;
    const char *why = NULL;
    switch (hs_client_msg(&i->hc, m, &k, &why)) {
    case HS_C_FAIL:
        return why;
    case HS_C_UP:
        snprintf(i->remote_if, sizeof(i->remote_if), "%s", m->u.connect.if_name);
        itf_link_up(dp, i);
        for (int q = 0; q < i->n_m2s; q++) ring_post_all(&i->rc, &i->m2s[q]);
        return NULL;
    case HS_C_SEND:
        return wire_send_msg(i->fd, &i->hc.out[k], i->out_fd[k]) ? "send failed" : NULL;
    }
    return "unexpected message";
}

void hsio_on_ctrl(dp_t *dp, itf_t *i) {
    if (i->fd < 0) return;
    uint8_t buf[MEMIF_MSG_SIZE + 1];
    int fd_in;
    ssize_t n = wire_recv_msg(i->fd, buf, sizeof(buf), &fd_in);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        if (fd_in >= 0) close(fd_in);
        itf_teardown(dp, i, i->remote_reason[0] ? "" : "peer closed the connection");
        return;
    }
    ctrl_msg_t m;
    const char *why = NULL;
    if (wire_parse_msg(buf, (size_t)n, &m) != 0) {
        why = "malformed message";
    } else if (m.type == MSG_DISCONNECT) {
        snprintf(i->remote_reason, sizeof(i->remote_reason), "%s", m.u.disconnect.string);
        if (fd_in >= 0) close(fd_in);
        itf_teardown(dp, i, "");
        return;
    } else if (i->state == ST_CONNECTED) {
        why = "unexpected message";
    } else if (i->role == ROLE_SERVER) {
        why = server_msg(dp, i, &m, &fd_in);
    } else {
        why = client_msg(dp, i, &m);
    }
    if (fd_in >= 0) close(fd_in); /* not consumed: never leak what a peer sends */
    if (why) itf_disconnect(dp, i, why);
}

