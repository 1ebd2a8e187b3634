/* Dataplane core: sockets, the epoll loop, C-side forwarding, and the I/O of the
 * memif handshake in both roles. Control-message bytes are handled by ctrl.c,
 * handshake decisions by handshake.c and rings by ring.c; this file owns file
 * descriptors, memory mappings and timers. */
#define _GNU_SOURCE
#include "dp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void set_err(char *err, size_t n, const char *fmt, const char *a, const char *b) {
    snprintf(err, n, fmt, a ? a : "", b ? b : "");
}

void dp_wake(dp_t *dp) {
    uint64_t one = 1;
    ssize_t r = write(dp->wake_fd, &one, sizeof(one));
    (void)r;
}

static void push(dp_t *dp, itf_t *i, int kind, int up, const char *text) {
    if (dp->n_events == dp->cap_events) {
        int cap = dp->cap_events ? dp->cap_events * 2 : 64;
        if (cap > 65536) return; /* nobody reads: keep memory bounded */
        void *p = realloc(dp->events, (size_t)cap * sizeof(*dp->events));
        if (!p) return;
        dp->events = p;
        dp->cap_events = cap;
    }
    struct dp_event *e = &dp->events[dp->n_events++];
    e->sid = i->sid;
    e->id = i->id;
    e->kind = kind;
    e->up = up;
    snprintf(e->reason, sizeof(e->reason), "%s", text ? text : "");
    uint64_t one = 1;
    ssize_t r = write(dp->event_fd, &one, sizeof(one));
    (void)r;
}

static void push_event(dp_t *dp, itf_t *i, int up, const char *reason) {
    push(dp, i, DP_EV_LINK, up, reason);
}

static int ep_add(dp_t *dp, int fd, evtag_t *tag) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = tag};
    return epoll_ctl(dp->epfd, EPOLL_CTL_ADD, fd, &ev);
}

static void ep_del(dp_t *dp, int fd) { epoll_ctl(dp->epfd, EPOLL_CTL_DEL, fd, NULL); }

/* ---- control socket I/O ------------------------------------------------------------------ */

static int send_msg(int fd, const ctrl_msg_t *m, int passfd) {
    uint8_t buf[MEMIF_MSG_SIZE];
    ctrl_encode(m, buf);
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (passfd >= 0) {
        memset(&u, 0, sizeof(u));
        mh.msg_control = u.b;
        mh.msg_controllen = sizeof(u.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &passfd, sizeof(int));
    }
    return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == MEMIF_MSG_SIZE ? 0 : -1;
}

/* One datagram; *fd_out gets the first passed fd (others are closed). Returns its
 * length, 0 on EOF, -1 on error (EAGAIN included). */
static ssize_t recv_msg(int fd, uint8_t *buf, size_t cap, int *fd_out) {
    union {
        char b[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                        .msg_controllen = sizeof(u.b)};
    *fd_out = -1;
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t k = 0; k < nfd; k++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
            if (*fd_out < 0) *fd_out = f;
            else close(f);
        }
    }
    if (mh.msg_flags & MSG_TRUNC) return (ssize_t)cap + 1; /* oversize: rejected by caller */
    return n;
}

/* ---- interface connection state ---------------------------------------------------------- */

queue_t *itf_rxq(itf_t *i, int *n) {
    if (i->role == ROLE_SERVER) { *n = i->n_s2m; return i->s2m; }
    *n = i->n_m2s;
    return i->m2s;
}

queue_t *itf_txq(itf_t *i, int *n) {
    if (i->role == ROLE_SERVER) { *n = i->n_m2s; return i->m2s; }
    *n = i->n_s2m;
    return i->s2m;
}

static int idle_state(itf_t *i) {
    if (!i->enabled) return ST_DISABLED;
    return i->role == ROLE_SERVER ? ST_LISTENING : ST_CONNECTING;
}

/* Unmap, close, forget the connection; a link that was up goes down with `reason`. */
static void teardown(dp_t *dp, itf_t *i, const char *local_reason) {
    int was_up = i->state == ST_CONNECTED;
    dp->gen++;
    if (i->fd >= 0) {
        ep_del(dp, i->fd);
        close(i->fd);
        i->fd = -1;
    }
    for (int k = 0; k < MAX_QUEUES; k++) {
        if (i->s2m && i->s2m[k].efd >= 0) { ep_del(dp, i->s2m[k].efd); close(i->s2m[k].efd); }
        if (i->m2s && i->m2s[k].efd >= 0) { ep_del(dp, i->m2s[k].efd); close(i->m2s[k].efd); }
    }
    free(i->s2m);
    free(i->m2s);
    free(i->rx_ev);
    i->s2m = i->m2s = NULL;
    i->rx_ev = NULL;
    for (int r = 0; r < i->n_regions; r++) {
        if (i->regions[r].addr) munmap(i->regions[r].addr, i->regions[r].size);
        if (i->regions[r].fd >= 0) close(i->regions[r].fd);
    }
    memset(i->regions, 0, sizeof(i->regions));
    i->n_regions = 0;
    i->n_s2m = i->n_m2s = 0;
    memset(&i->hs, 0, sizeof(i->hs));
    i->hc.n_out = i->hc.next_out = 0;
    i->rc.posted_size = 0;
    i->bsize_run = 0;
    i->state = idle_state(i);
    i->retry_at = now_s() + 1.0;
    if (local_reason && *local_reason)
        snprintf(i->local_reason, sizeof(i->local_reason), "%s", local_reason);
    if (was_up) push_event(dp, i, 0, local_reason && *local_reason ? local_reason : i->remote_reason);
}

static void disconnect(dp_t *dp, itf_t *i, const char *reason) {
    if (i->fd >= 0) {
        ctrl_msg_t m = {.type = MSG_DISCONNECT};
        snprintf(m.u.disconnect.string, sizeof(m.u.disconnect.string), "%s", reason);
        send_msg(i->fd, &m, -1);
    }
    teardown(dp, i, reason);
}

static int alloc_queues(itf_t *i) {
    i->s2m = calloc(MAX_QUEUES, sizeof(queue_t));
    i->m2s = calloc(MAX_QUEUES, sizeof(queue_t));
    i->rx_ev = calloc(MAX_QUEUES, sizeof(evtag_t));
    if (!i->s2m || !i->m2s || !i->rx_ev) return -1;
    for (int k = 0; k < MAX_QUEUES; k++) i->s2m[k].efd = i->m2s[k].efd = -1;
    return 0;
}

static void link_up(dp_t *dp, itf_t *i) {
    i->rc.regions = i->regions;
    i->rc.n_regions = i->n_regions;
    i->rc.master = i->role == ROLE_SERVER;
    int nrx;
    queue_t *rx = itf_rxq(i, &nrx);
    for (int k = 0; k < nrx; k++) {
        i->rx_ev[k] = (evtag_t){.type = EV_RXQ, .obj = i, .q = k};
        ep_add(dp, rx[k].efd, &i->rx_ev[k]);
    }
    i->state = ST_CONNECTED;
    i->overrun_logged = 0;
    i->local_reason[0] = i->remote_reason[0] = 0;
    push_event(dp, i, 1, "connected");
}

/* ---- server (master) side ----------------------------------------------------------------- */

static void hello(dp_t *dp, int fd) {
    ctrl_msg_t m;
    hs_hello(&m, dp->app_name);
    send_msg(fd, &m, -1);
}

static void reject(int fd, const char *reason) {
    ctrl_msg_t m = {.type = MSG_DISCONNECT};
    snprintf(m.u.disconnect.string, sizeof(m.u.disconnect.string), "%s", reason);
    send_msg(fd, &m, -1);
}

static void drop_pending(dp_t *dp, pending_t *p) {
    dp->gen++;
    pending_t **pp = &dp->pending;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
    p->sock->n_pending--;
    if (p->fd >= 0) { ep_del(dp, p->fd); close(p->fd); }
    free(p);
}

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

static void on_pending(dp_t *dp, pending_t *p) {
    uint8_t buf[MEMIF_MSG_SIZE + 1];
    int fd_in;
    ssize_t n = recv_msg(p->fd, buf, sizeof(buf), &fd_in);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (fd_in >= 0) close(fd_in); /* INIT carries no fd */
    ctrl_msg_t m;
    if (n <= 0) { drop_pending(dp, p); return; }
    if (ctrl_decode(buf, (size_t)n, &m) != 0) {
        reject(p->fd, "malformed message");
        drop_pending(dp, p);
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
        reject(p->fd, why);
        drop_pending(dp, p);
        return;
    }
    if (alloc_queues(i) != 0) { reject(p->fd, "out of memory"); drop_pending(dp, p); return; }
    double deadline = p->deadline; /* the bound runs from accept, not from INIT */
    ep_del(dp, p->fd);
    i->fd = p->fd;
    p->fd = -1;
    drop_pending(dp, p);
    i->ctrl_ev = (evtag_t){.type = EV_CTRL, .obj = i};
    ep_add(dp, i->fd, &i->ctrl_ev);
    i->state = ST_HANDSHAKE;
    i->hs_deadline = deadline;
    snprintf(i->remote_name, sizeof(i->remote_name), "%s", m.u.init.name);
    memset(&i->hs, 0, sizeof(i->hs));
    ctrl_msg_t ack = {.type = MSG_ACK};
    send_msg(i->fd, &ack, -1);
}

/* A region fd we may map for `size` bytes: a file sealed against shrinking
 * (else the peer can truncate it under our mapping and the next ring access
 * is a SIGBUS) and at least that large. */
static const char *region_fd_check(int fd, uint64_t size) {
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0) return "region fd is not a sealable memfd";
    if (!(seals & F_SEAL_SHRINK)) return "region fd not sealed against shrinking";
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < size) return "region size larger than its file";
    return NULL;
}

/* An interrupt fd we may read and write from the loop: an eventfd (anything
 * else, a socket with SO_RCVLOWAT or a pipe, can block or hang up), made
 * non-blocking. */
static const char *interrupt_fd_check(int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0 || S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) ||
        S_ISDIR(st.st_mode) || S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode))
        return "interrupt fd is not an eventfd";
    char link[64], target[32];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof(target) - 1);
    if (n < 0) return "interrupt fd is not an eventfd";
    target[n] = 0;
    if (strcmp(target, "anon_inode:[eventfd]") != 0) return "interrupt fd is not an eventfd";
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) return "interrupt fd: cannot set O_NONBLOCK";
    return NULL;
}

/* Does what hs_server_msg decided: the mappings, the ACKs, the link. */
static const char *server_msg(dp_t *dp, itf_t *i, const ctrl_msg_t *m, int *fd_in) {
    ctrl_msg_t ack = {.type = MSG_ACK};
    const char *why = NULL;
    switch (hs_server_msg(&i->hs, m, *fd_in >= 0, &why)) {
    case HS_FAIL:
        return why;
    case HS_MAP_REGION: {
        uint64_t size = m->u.add_region.size;
        const char *bad = region_fd_check(*fd_in, size);
        if (bad) return bad;
        void *a = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd_in, 0);
        if (a == MAP_FAILED) return "cannot map region";
        i->regions[i->n_regions++] = (region_t){.addr = a, .size = size, .fd = *fd_in};
        *fd_in = -1;
        return send_msg(i->fd, &ack, -1) ? "send failed" : NULL;
    }
    case HS_ADD_RING: {
        const typeof(m->u.add_ring) *r = &m->u.add_ring;
        queue_t *q = (r->flags & ADD_RING_FLAG_S2M) ? &i->s2m[r->index] : &i->m2s[r->index];
        memset(q, 0, sizeof(*q));
        q->ring = (memif_ring_t *)(i->regions[r->region].addr + r->offset);
        q->mask = (uint16_t)((1u << r->log2_ring_size) - 1);
        const char *bad = interrupt_fd_check(*fd_in);
        if (bad) return bad;
        q->efd = *fd_in;
        *fd_in = -1;
        return send_msg(i->fd, &ack, -1) ? "send failed" : NULL;
    }
    case HS_CONNECT: {
        /* Again, now that the peer had time to change its files: the rings
         * below are about to be read. */
        for (int r = 0; r < i->n_regions; r++) {
            const char *bad = region_fd_check(i->regions[r].fd, i->regions[r].size);
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
        if (send_msg(i->fd, &c, -1)) return "send failed";
        link_up(dp, i);
        return NULL;
    }
    }
    return "unexpected message";
}

/* ---- client (slave) side ------------------------------------------------------------------ */

static void client_connect(dp_t *dp, itf_t *i) {
    i->retry_at = now_s() + 1.0;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", i->sock->path);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        snprintf(i->local_reason, sizeof(i->local_reason), "connect: %s", strerror(errno));
        close(fd);
        return;
    }
    if (alloc_queues(i) != 0) { close(fd); return; }
    i->fd = fd;
    i->ctrl_ev = (evtag_t){.type = EV_CTRL, .obj = i};
    ep_add(dp, fd, &i->ctrl_ev);
    i->state = ST_HANDSHAKE;
    /* The bound starts at the server's HELLO: a server may accept long before
     * it speaks (DPDK while it initializes), and cutting it off then is no
     * defence, since it is the only server we may connect to. A server that
     * never speaks is left after DP_HELLO_WAIT. */
    i->hs_deadline = now_s() + (dp->hs_timeout > DP_HELLO_WAIT ? dp->hs_timeout : DP_HELLO_WAIT);
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
        i->hs_deadline = now_s() + dp->hs_timeout;
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
        link_up(dp, i);
        for (int q = 0; q < i->n_m2s; q++) ring_post_all(&i->rc, &i->m2s[q]);
        return NULL;
    case HS_C_SEND:
        return send_msg(i->fd, &i->hc.out[k], i->out_fd[k]) ? "send failed" : NULL;
    }
    return "unexpected message";
}

static void on_ctrl(dp_t *dp, itf_t *i) {
    if (i->fd < 0) return;
    uint8_t buf[MEMIF_MSG_SIZE + 1];
    int fd_in;
    ssize_t n = recv_msg(i->fd, buf, sizeof(buf), &fd_in);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n <= 0) {
        if (fd_in >= 0) close(fd_in);
        teardown(dp, i, i->remote_reason[0] ? "" : "peer closed the connection");
        return;
    }
    ctrl_msg_t m;
    const char *why = NULL;
    if (ctrl_decode(buf, (size_t)n, &m) != 0) {
        why = "malformed message";
    } else if (m.type == MSG_DISCONNECT) {
        snprintf(i->remote_reason, sizeof(i->remote_reason), "%s", m.u.disconnect.string);
        if (fd_in >= 0) close(fd_in);
        teardown(dp, i, "");
        return;
    } else if (i->state == ST_CONNECTED) {
        why = "unexpected message";
    } else if (i->role == ROLE_SERVER) {
        why = server_msg(dp, i, &m, &fd_in);
    } else {
        why = client_msg(dp, i, &m);
    }
    if (fd_in >= 0) close(fd_in); /* not consumed: never leak what a peer sends */
    if (why) disconnect(dp, i, why);
}

/* ---- sockets --------------------------------------------------------------------------------- */

static int mkdirs(const char *path) {
    char tmp[108];
    snprintf(tmp, sizeof(tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return 0;
}

static int sock_listen(dp_t *dp, sock_t *s, char *err, size_t n) {
    if (s->listen_fd >= 0) return 0;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(s->path) >= sizeof(a.sun_path)) {
        set_err(err, n, "socket path too long: %s%s", s->path, NULL);
        return -1;
    }
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", s->path);
    if (mkdirs(s->path) != 0) {
        set_err(err, n, "cannot create the directory of %s: %s", s->path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (lstat(s->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            set_err(err, n, "%s exists and is not a socket%s", s->path, NULL);
            return -1;
        }
        /* Non-blocking: whoever listens there may never accept, and we hold the lock.
         * EAGAIN (its backlog is full) means it is alive too. */
        int t = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int live = t >= 0 && (connect(t, (struct sockaddr *)&a, sizeof(a)) == 0 ||
                              errno == EAGAIN || errno == EINPROGRESS);
        if (t >= 0) close(t);
        if (live) {
            set_err(err, n, "address in use: another process listens on %s%s", s->path, NULL);
            return -1;
        }
        unlink(s->path); /* stale: nobody listens on it */
    }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        set_err(err, n, "cannot listen on %s: %s", s->path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    /* Who may connect is decided by the file's mode and owner: set them before
     * anyone can reach the socket through listen(). */
    if ((s->perm >= 0 && chmod(s->path, (mode_t)s->perm) != 0) ||
        ((s->uid >= 0 || s->gid >= 0) &&
         chown(s->path, (uid_t)s->uid, (gid_t)s->gid) != 0)) {
        set_err(err, n, "cannot set owner/mode of %s: %s", s->path, strerror(errno));
        close(fd);
        unlink(s->path);
        return -1;
    }
    if (listen(fd, 64) != 0) {
        set_err(err, n, "cannot listen on %s: %s", s->path, strerror(errno));
        close(fd);
        unlink(s->path);
        return -1;
    }
    s->listen_fd = fd;
    s->ev = (evtag_t){.type = EV_LISTEN, .obj = s};
    ep_add(dp, fd, &s->ev);
    s->error[0] = 0;
    return 0;
}

static void sock_unlisten(dp_t *dp, sock_t *s) {
    if (s->listen_fd < 0) return;
    dp->gen++;
    if (s->accept_resume == 0) ep_del(dp, s->listen_fd);
    s->accept_resume = 0;
    close(s->listen_fd);
    s->listen_fd = -1;
    unlink(s->path);
    for (pending_t *p = dp->pending, *nx; p; p = nx) {
        nx = p->next;
        if (p->sock == s) drop_pending(dp, p);
    }
}

/* Out of fds (or memory): take the listen fd out of epoll for a while, else
 * level-triggered epoll reports it again at once and the loop spins. */
static void accept_backoff(dp_t *dp, sock_t *s) {
    ep_del(dp, s->listen_fd);
    s->accept_resume = now_s() + DP_ACCEPT_BACKOFF;
}

static void on_accept(dp_t *dp, sock_t *s) {
    for (int k = 0; k < 64; k++) { /* a bounded batch: other fds get their turn */
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
            accept_backoff(dp, s); /* the connection waits in the backlog */
            return;
        }
        if (s->n_pending >= dp->max_pending) {
            reject(fd, "too many pending connections");
            close(fd);
            s->dropped++;
            continue;
        }
        pending_t *p = calloc(1, sizeof(*p));
        if (!p) { close(fd); s->dropped++; continue; }
        s->n_pending++;
        p->fd = fd;
        p->sock = s;
        p->deadline = now_s() + dp->hs_timeout;
        p->ev = (evtag_t){.type = EV_PENDING, .obj = p};
        p->next = dp->pending;
        dp->pending = p;
        ep_add(dp, fd, &p->ev);
        hello(dp, fd);
    }
}

sock_t *dp_find_socket(dp_t *dp, uint32_t sid) {
    for (sock_t *s = dp->sockets; s; s = s->next)
        if (s->id == sid) return s;
    return NULL;
}

itf_t *dp_find(dp_t *dp, uint32_t sid, uint32_t id) {
    for (itf_t *i = dp->itfs; i; i = i->next)
        if (i->sid == sid && i->id == id) return i;
    return NULL;
}

static int sock_users(dp_t *dp, sock_t *s, int role) {
    int n = 0;
    for (itf_t *i = dp->itfs; i; i = i->next)
        if (i->sock == s && (role == ROLE_NONE || i->role == role)) n++;
    return n;
}

int dp_add_socket(dp_t *dp, uint32_t sid, const char *path, int perm, long uid, long gid,
                  char *err, size_t n) {
    if (dp_find_socket(dp, sid)) {
        snprintf(err, n, "socket %u already exists", sid);
        return -1;
    }
    if (!path || path[0] != '/' || strlen(path) >= 108) {
        set_err(err, n, "socket filename must be an absolute path under 108 bytes: %s%s", path,
                NULL);
        return -1;
    }
    sock_t *s = calloc(1, sizeof(*s));
    if (!s) return -1;
    s->id = sid;
    snprintf(s->path, sizeof(s->path), "%s", path);
    s->listen_fd = -1;
    s->role = ROLE_NONE;
    s->perm = perm;
    s->uid = uid;
    s->gid = gid;
    s->next = dp->sockets;
    dp->sockets = s;
    return 0;
}

int dp_remove_socket(dp_t *dp, uint32_t sid, char *err, size_t n) {
    sock_t **pp = &dp->sockets;
    while (*pp && (*pp)->id != sid) pp = &(*pp)->next;
    if (!*pp) {
        snprintf(err, n, "socket %u does not exist", sid);
        return -1;
    }
    sock_t *s = *pp;
    if (sock_users(dp, s, ROLE_NONE)) {
        snprintf(err, n, "socket %u is in use by interfaces", sid);
        return -1;
    }
    sock_unlisten(dp, s);
    *pp = s->next;
    dp->gen++;
    free(s);
    return 0;
}

int dp_add_interface(dp_t *dp, itf_t *t, char *err, size_t n) {
    sock_t *s = dp_find_socket(dp, t->sid);
    if (!s) {
        snprintf(err, n, "socket %u does not exist", t->sid);
        return -1;
    }
    if (dp_find(dp, t->sid, t->id)) {
        snprintf(err, n, "memif%u/%u already exists", t->sid, t->id);
        return -1;
    }
    int users = sock_users(dp, s, ROLE_NONE);
    if (users && s->role != t->role) {
        snprintf(err, n, "socket %u already has %s interfaces", t->sid,
                 s->role == ROLE_SERVER ? "server" : "client");
        return -1;
    }
    if (t->mode == MODE_PUNT_INJECT) {
        snprintf(err, n, "mode punt-inject is not implemented");
        return -1;
    }
    if (t->role == ROLE_SERVER && sock_listen(dp, s, err, n) != 0) {
        snprintf(s->error, sizeof(s->error), "%s", err);
        return -1;
    }
    itf_t *i = calloc(1, sizeof(*i));
    if (!i) return -1;
    *i = *t;
    i->sock = s;
    i->fd = -1;
    i->state = idle_state(i);
    i->retry_at = 0;
    i->next = dp->itfs;
    dp->itfs = i;
    s->role = t->role;
    dp_wake(dp);
    return 0;
}

static void clear_xc(itf_t *i) {
    if (i->xc) {
        if (i->xc->xc == i) i->xc->xc = NULL;
        i->xc = NULL;
    }
}

int dp_remove_interface(dp_t *dp, uint32_t sid, uint32_t id, char *err, size_t n) {
    itf_t **pp = &dp->itfs;
    while (*pp && !((*pp)->sid == sid && (*pp)->id == id)) pp = &(*pp)->next;
    if (!*pp) {
        snprintf(err, n, "memif%u/%u does not exist", sid, id);
        return -1;
    }
    itf_t *i = *pp;
    i->enabled = 0;
    disconnect(dp, i, "interface deleted");
    clear_xc(i);
    *pp = i->next;
    sock_t *s = i->sock;
    dp->gen++;
    free(i);
    if (!sock_users(dp, s, ROLE_NONE)) {
        s->role = ROLE_NONE;
        sock_unlisten(dp, s);
    }
    return 0;
}

int dp_set_enabled(dp_t *dp, uint32_t sid, uint32_t id, int up, char *err, size_t n) {
    itf_t *i = dp_find(dp, sid, id);
    if (!i) {
        snprintf(err, n, "memif%u/%u does not exist", sid, id);
        return -1;
    }
    if (!!up == !!i->enabled) return 0;
    i->enabled = !!up;
    if (!up) {
        disconnect(dp, i, "admin down");
    } else {
        i->state = idle_state(i);
        i->retry_at = 0;
    }
    dp_wake(dp);
    return 0;
}

int dp_set_xconnect(dp_t *dp, uint32_t sid, uint32_t id, int has_peer, uint32_t psid,
                    uint32_t pid, char *err, size_t n) {
    itf_t *a = dp_find(dp, sid, id);
    itf_t *b = has_peer ? dp_find(dp, psid, pid) : NULL;
    if (!a || (has_peer && !b) || a == b) {
        snprintf(err, n, "xconnect needs two existing, different interfaces");
        return -1;
    }
    clear_xc(a);
    if (b) {
        clear_xc(b);
        a->xc = b;
        b->xc = a;
    }
    dp_wake(dp);
    return 0;
}

/* ---- the loop ---------------------------------------------------------------------------------- */

static void add_rx(itf_t *i, int frames, uint64_t bytes, int dropped) {
    i->rx_packets += (uint64_t)frames;
    i->rx_bytes += bytes;
    if (dropped) i->rx_drops += (uint64_t)frames;
}

static void forward(dp_t *dp, itf_t *a) {
    int nrx, ntx;
    queue_t *rx = itf_rxq(a, &nrx);
    itf_t *b = a->xc;
    queue_t *tx = itf_txq(b, &ntx);
    for (int k = 0; k < nrx; k++) {
        uint64_t bytes = 0;
        int got = ring_rx(&a->rc, &rx[k], dp->scratch, SCRATCH_BYTES, dp->scratch_lens,
                          SCRATCH_FRAMES, &bytes);
        if (got <= 0) continue;
        add_rx(a, got, bytes, 0);
        uint64_t before = tx[k % ntx].bytes;
        int sent = ring_tx(&b->rc, &tx[k % ntx], dp->scratch, dp->scratch_lens, got);
        b->tx_packets += (uint64_t)sent;
        b->tx_bytes += tx[k % ntx].bytes - before;
        b->rc.tx_drops += (uint64_t)(got - sent);
    }
}

void dp_stop_traffic(itf_t *i) {
    i->traffic = TRAFFIC_NONE;
    if (i->state != ST_CONNECTED) return;
    int nrx;
    queue_t *rx = itf_rxq(i, &nrx);
    for (int k = 0; k < nrx; k++) rx[k].ring->flags &= (uint16_t)~RING_FLAG_MASK_INT;
}

static void service(dp_t *dp, itf_t *i) {
    int nrx, ntx;
    if (i->traffic == TRAFFIC_TX) {
        queue_t *tx = itf_txq(i, &ntx);
        for (int k = 0; k < ntx; k++) {
            uint64_t before = tx[k].bytes;
            int sent = ring_tx(&i->rc, &tx[k], dp->gen_frame, dp->scratch_lens + SCRATCH_FRAMES,
                               SCRATCH_FRAMES);
            i->tx_packets += (uint64_t)sent;
            i->tx_bytes += tx[k].bytes - before;
        }
    }
    if (i->xc && i->xc->state == ST_CONNECTED) {
        forward(dp, i);
        dp_note_ring(dp, i->xc);
        dp_note_ring(dp, i);
        return;
    }
    int sink = i->traffic == TRAFFIC_RX || i->traffic == TRAFFIC_RX_COPY;
    if (i->python_rx && !sink) return;
    queue_t *rx = itf_rxq(i, &nrx);
    if (i->traffic != TRAFFIC_NONE) /* we poll: spare the peer its eventfd writes */
        for (int k = 0; k < nrx; k++) rx[k].ring->flags |= RING_FLAG_MASK_INT;
    int copy = i->traffic == TRAFFIC_RX_COPY;
    for (int k = 0; k < nrx; k++) {
        uint64_t bytes = 0;
        int got;
        while ((got = ring_rx(&i->rc, &rx[k], copy ? dp->scratch : NULL, copy ? SCRATCH_BYTES : 0,
                              copy ? dp->scratch_lens : NULL, SCRATCH_FRAMES, &bytes)) > 0)
            add_rx(i, got, bytes, !sink), bytes = 0;
    }
    dp_note_ring(dp, i);
}

void dp_note_ring(dp_t *dp, itf_t *i) {
    if (i->state != ST_CONNECTED) return;
    int ntx;
    queue_t *tx = itf_txq(i, &ntx);
    for (int k = 0; k < ntx; k++)
        if (tx[k].efd_blocking) {
            disconnect(dp, i, "interrupt fd made blocking");
            return;
        }
    if (i->rc.overruns && !i->overrun_logged) {
        i->overrun_logged = 1;
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "memif%u/%u: peer published more descriptors than the ring holds "
                 "(ring overrun); the excess is ignored and counted in ring-overruns",
                 i->sid, i->id);
        push(dp, i, DP_EV_LOG, 0, msg);
    }
}

uint32_t dp_buffer_size(itf_t *i) {
    if (i->state != ST_CONNECTED) return 0;
    if (i->role == ROLE_CLIENT || i->bsize_run) return i->bsize_run;
    if (i->rc.posted_size) return i->rc.posted_size;
    /* A zero-copy client posts its buffers only after CONNECTED, and our
     * transmit has not used one yet: read what it posted. */
    for (int k = 0; k < i->n_m2s; k++) {
        queue_t *q = &i->m2s[k];
        uint16_t posted = (uint16_t)(__atomic_load_n(&q->ring->head, __ATOMIC_ACQUIRE) - q->last);
        if (posted == 0 || posted > q->mask + 1u) continue;
        uint32_t len = q->ring->desc[q->last & q->mask].length;
        if (len && len <= MAX_FRAME) return len;
    }
    return 0;
}

static void *loop(void *arg) {
    dp_t *dp = arg;
    struct epoll_event evs[64];
    pthread_mutex_lock(&dp->lock);
    while (dp->running) {
        int busy = 0;
        double next = now_s() + 0.1;
        for (itf_t *i = dp->itfs; i; i = i->next) {
            if (i->traffic != TRAFFIC_NONE && i->state == ST_CONNECTED) busy = 1;
            if (i->role == ROLE_CLIENT && i->enabled && i->state == ST_CONNECTING && i->retry_at < next)
                next = i->retry_at;
            if (i->state == ST_HANDSHAKE && i->hs_deadline < next) next = i->hs_deadline;
        }
        for (pending_t *p = dp->pending; p; p = p->next)
            if (p->deadline < next) next = p->deadline;
        for (sock_t *s = dp->sockets; s; s = s->next)
            if (s->accept_resume > 0 && s->accept_resume < next) next = s->accept_resume;
        int timeout = busy ? 0 : (int)((next - now_s()) * 1000);
        if (timeout < 0) timeout = 0;
        unsigned gen = dp->gen;
        pthread_mutex_unlock(&dp->lock);
        int n = epoll_wait(dp->epfd, evs, 64, timeout);
        pthread_mutex_lock(&dp->lock);
        for (int k = 0; k < n && dp->gen == gen; k++) {
            evtag_t *t = evs[k].data.ptr;
            uint64_t v;
            switch (t->type) {
            case EV_WAKE:
                if (read(dp->wake_fd, &v, sizeof(v)) < 0) {}
                break;
            case EV_LISTEN: on_accept(dp, t->obj); break;
            case EV_PENDING: on_pending(dp, t->obj); break;
            case EV_CTRL: on_ctrl(dp, t->obj); break;
            case EV_RXQ: {
                itf_t *i = t->obj;
                int nrx;
                queue_t *rx = itf_rxq(i, &nrx);
                if (t->q >= nrx) break;
                /* An eventfd never hangs up; whatever does would be reported
                 * again at once, forever: drop the link. */
                if (evs[k].events & (EPOLLHUP | EPOLLERR)) {
                    disconnect(dp, i, "interrupt fd hung up");
                    break;
                }
                if (!ring_efd_nonblocking(&rx[t->q])) {
                    disconnect(dp, i, "interrupt fd made blocking");
                    break;
                }
                if (read(rx[t->q].efd, &v, sizeof(v)) == sizeof(v)) {
                    rx[t->q].interrupts++;
                    i->interrupts++;
                }
                break;
            }
            }
        }
        double now = now_s();
        for (pending_t *p = dp->pending, *nx; p; p = nx) {
            nx = p->next;
            if (now >= p->deadline) {
                snprintf(p->sock->refused, sizeof(p->sock->refused),
                         "a peer: handshake timeout (no INIT)");
                reject(p->fd, "handshake timeout");
                drop_pending(dp, p);
            }
        }
        for (sock_t *s = dp->sockets; s; s = s->next)
            if (s->accept_resume > 0 && now >= s->accept_resume && s->listen_fd >= 0) {
                s->accept_resume = 0;
                ep_add(dp, s->listen_fd, &s->ev);
            }
        for (itf_t *i = dp->itfs; i; i = i->next) {
            if (i->state == ST_HANDSHAKE && now >= i->hs_deadline)
                disconnect(dp, i,
                           i->role == ROLE_CLIENT && !i->got_hello ? "no HELLO from the server"
                                                                   : "handshake timeout");
            if (i->role == ROLE_CLIENT && i->enabled && i->state == ST_CONNECTING && now >= i->retry_at)
                client_connect(dp, i);
            if (i->state == ST_CONNECTED) service(dp, i);
        }
    }
    pthread_mutex_unlock(&dp->lock);
    return NULL;
}

dp_t *dp_new(const char *app_name, double hs_timeout, int max_pending, char *err, size_t n) {
    dp_t *dp = calloc(1, sizeof(*dp));
    if (!dp) {
        snprintf(err, n, "cannot set up the dataplane: out of memory");
        return NULL;
    }
    dp->hs_timeout = hs_timeout;
    dp->max_pending = max_pending;
    pthread_mutex_init(&dp->lock, NULL);
    snprintf(dp->app_name, sizeof(dp->app_name), "%s", app_name);
    dp->epfd = epoll_create1(EPOLL_CLOEXEC);
    dp->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    dp->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    dp->scratch = malloc(SCRATCH_BYTES);
    dp->scratch_lens = calloc(2 * SCRATCH_FRAMES, sizeof(uint32_t));
    dp->gen_frame = calloc(SCRATCH_FRAMES, 9216);
    if (dp->epfd < 0 || dp->wake_fd < 0 || dp->event_fd < 0 || !dp->scratch ||
        !dp->scratch_lens || !dp->gen_frame) {
        snprintf(err, n, "cannot set up the dataplane: %s", strerror(errno));
        dp_free(dp);
        return NULL;
    }
    dp->wake_ev = (evtag_t){.type = EV_WAKE};
    ep_add(dp, dp->wake_fd, &dp->wake_ev);
    dp->running = 1;
    if (pthread_create(&dp->thread, NULL, loop, dp) != 0) {
        dp->running = 0;
        snprintf(err, n, "cannot start the dataplane thread");
        dp_free(dp);
        return NULL;
    }
    return dp;
}

void dp_free(dp_t *dp) {
    if (!dp) return;
    if (dp->running) {
        pthread_mutex_lock(&dp->lock);
        dp->running = 0;
        pthread_mutex_unlock(&dp->lock);
        dp_wake(dp);
        pthread_join(dp->thread, NULL);
    }
    char err[8];
    while (dp->itfs) dp_remove_interface(dp, dp->itfs->sid, dp->itfs->id, err, sizeof(err));
    while (dp->sockets) dp_remove_socket(dp, dp->sockets->id, err, sizeof(err));
    while (dp->pending) drop_pending(dp, dp->pending);
    if (dp->epfd >= 0) close(dp->epfd);
    if (dp->wake_fd >= 0) close(dp->wake_fd);
    if (dp->event_fd >= 0) close(dp->event_fd);
    free(dp->scratch);
    free(dp->scratch_lens);
    free(dp->gen_frame);
    free(dp->events);
    pthread_mutex_destroy(&dp->lock);
    free(dp);
}
