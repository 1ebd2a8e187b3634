/* The epoll thread: one loop that serves control sockets, interrupts and
 * timers, moves traffic (xconnect, generator, sink) and turns link changes into
 * events for Python. Lifecycle of the whole dataplane (dp_new, dp_free). */
#define _GNU_SOURCE
#include "dp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

double dp_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void dp_wake(dp_t *dp) {
    uint64_t one = 1;
    ssize_t r = write(dp->wake_fd, &one, sizeof(one));
    (void)r;
}

void dp_push(dp_t *dp, itf_t *i, int kind, int up, const char *text) {
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

void dp_push_link(dp_t *dp, itf_t *i, int up, const char *reason) {
    dp_push(dp, i, DP_EV_LINK, up, reason);
}

int dp_ep_add(dp_t *dp, int fd, evtag_t *tag) { return dp_ep_add_events(dp, fd, EPOLLIN, tag); }

int dp_ep_add_events(dp_t *dp, int fd, uint32_t events, evtag_t *tag) {
    struct epoll_event ev = {.events = events, .data.ptr = tag};
    return epoll_ctl(dp->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void dp_ep_del(dp_t *dp, int fd) { epoll_ctl(dp->epfd, EPOLL_CTL_DEL, fd, NULL); }

/* ---- the loop ---------------------------------------------------------------------------------- */

static void add_rx(itf_t *i, int frames, uint64_t bytes, int dropped) {
    i->rx_packets += (uint64_t)frames;
    i->rx_bytes += bytes;
    if (dropped) i->rx_drops += (uint64_t)frames;
}

/* Moves one burst per queue; returns nonzero when it moved anything. Bursts are
 * bounded so one busy pair cannot starve the rest of the loop, and an interrupt is
 * edge-triggered: frames left behind a burst would wait for the next timer tick
 * (100 ms) unless the loop polls again at once. */
static int forward(dp_t *dp, itf_t *a) {
    int nrx, ntx, moved = 0;
    queue_t *rx = itf_rxq(a, &nrx);
    itf_t *b = a->xc;
    queue_t *tx = itf_txq(b, &ntx);
    for (int k = 0; k < nrx; k++) {
        uint64_t bytes = 0;
        int got = ring_rx(&a->rc, &rx[k], dp->scratch, SCRATCH_BYTES, dp->scratch_lens,
                          SCRATCH_FRAMES, &bytes);
        if (got <= 0) continue;
        moved = 1;
        add_rx(a, got, bytes, 0);
        uint64_t before = tx[k % ntx].bytes;
        int sent = ring_tx(&b->rc, &tx[k % ntx], dp->scratch, dp->scratch_lens, got);
        b->tx_packets += (uint64_t)sent;
        b->tx_bytes += tx[k % ntx].bytes - before;
        b->rc.tx_drops += (uint64_t)(got - sent);
    }
    return moved;
}

void dp_stop_traffic(itf_t *i) {
    i->traffic = TRAFFIC_NONE;
    if (i->state != ST_CONNECTED) return;
    int nrx;
    queue_t *rx = itf_rxq(i, &nrx);
    for (int k = 0; k < nrx; k++) rx[k].ring->flags &= (uint16_t)~RING_FLAG_MASK_INT;
}

/* Returns nonzero when the interface may have more to move right away. */
static int service(dp_t *dp, itf_t *i) {
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
        int moved = forward(dp, i);
        dp_note_ring(dp, i->xc);
        dp_note_ring(dp, i);
        return moved;
    }
    int sink = i->traffic == TRAFFIC_RX || i->traffic == TRAFFIC_RX_COPY;
    if (i->python_rx && !sink) return 0;
    queue_t *rx = itf_rxq(i, &nrx);
    /* We poll: spare the peer its eventfd writes. Read before writing: the flags
     * share a cache line with the head the peer polls, and a store on every
     * pass would take that line from the peer's cache each time. */
    if (i->traffic != TRAFFIC_NONE)
        for (int k = 0; k < nrx; k++)
            if (!(__atomic_load_n(&rx[k].ring->flags, __ATOMIC_RELAXED) & RING_FLAG_MASK_INT))
                rx[k].ring->flags |= RING_FLAG_MASK_INT;
    int copy = i->traffic == TRAFFIC_RX_COPY;
    for (int k = 0; k < nrx; k++) {
        uint64_t bytes = 0;
        int got;
        while ((got = ring_rx(&i->rc, &rx[k], copy ? dp->scratch : NULL, copy ? SCRATCH_BYTES : 0,
                              copy ? dp->scratch_lens : NULL, SCRATCH_FRAMES, &bytes)) > 0)
            add_rx(i, got, bytes, !sink), bytes = 0;
    }
    dp_note_ring(dp, i);
    return 0;
}

void dp_note_ring(dp_t *dp, itf_t *i) {
    if (i->state != ST_CONNECTED) return;
    int ntx;
    queue_t *tx = itf_txq(i, &ntx);
    for (int k = 0; k < ntx; k++)
        if (tx[k].efd_blocking) {
            itf_disconnect(dp, i, "interrupt fd made blocking");
            return;
        }
    if (i->rc.overruns && !i->overrun_logged) {
        i->overrun_logged = 1;
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "memif%u/%u: peer published more descriptors than the ring holds "
                 "(ring overrun); the excess is ignored and counted in ring-overruns",
                 i->sid, i->id);
        dp_push(dp, i, DP_EV_LOG, 0, msg);
    }
}

static void *loop(void *arg) {
    dp_t *dp = arg;
    struct epoll_event evs[64];
    int again = 0; /* the last pass moved frames: poll once more before sleeping */
    pthread_mutex_lock(&dp->lock);
    while (dp->running) {
        int busy = again;
        again = 0;
        double next = dp_now() + 0.1;
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
        int timeout = busy ? 0 : (int)((next - dp_now()) * 1000);
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
            case EV_LISTEN: sock_on_accept(dp, t->obj); break;
            case EV_PENDING: hsio_on_pending(dp, t->obj); break;
            case EV_CTRL: hsio_on_ctrl(dp, t->obj); break;
            case EV_RXQ: {
                itf_t *i = t->obj;
                int nrx;
                queue_t *rx = itf_rxq(i, &nrx);
                if (t->q >= nrx) break;
                /* An eventfd never hangs up; whatever does would be reported
                 * again at once, forever: drop the link. */
                if (evs[k].events & (EPOLLHUP | EPOLLERR)) {
                    itf_disconnect(dp, i, "interrupt fd hung up");
                    break;
                }
                /* Edge-triggered: each kick is one event and the counter is
                 * never read, so no read can block, whatever the peer does to
                 * the file's O_NONBLOCK (it shares the open file description).
                 * The rings are serviced after every batch anyway. */
                rx[t->q].interrupts++;
                i->interrupts++;
                break;
            }
            }
        }
        double now = dp_now();
        for (pending_t *p = dp->pending, *nx; p; p = nx) {
            nx = p->next;
            if (now >= p->deadline) {
                snprintf(p->sock->refused, sizeof(p->sock->refused),
                         "a peer: handshake timeout (no INIT)");
                wire_send_disconnect(p->fd, "handshake timeout");
                sock_drop_pending(dp, p);
            }
        }
        for (sock_t *s = dp->sockets; s; s = s->next)
            if (s->accept_resume > 0 && now >= s->accept_resume && s->listen_fd >= 0) {
                s->accept_resume = 0;
                dp_ep_add(dp, s->listen_fd, &s->ev);
            }
        for (itf_t *i = dp->itfs; i; i = i->next) {
            if (i->state == ST_HANDSHAKE && now >= i->hs_deadline)
                itf_disconnect(dp, i,
                           i->role == ROLE_CLIENT && !i->got_hello ? "no HELLO from the server"
                                                                   : "handshake timeout");
            if (i->role == ROLE_CLIENT && i->enabled && i->state == ST_CONNECTING && now >= i->retry_at)
                hsio_client_connect(dp, i);
            if (i->state == ST_CONNECTED && service(dp, i)) again = 1;
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
    dp_ep_add(dp, dp->wake_fd, &dp->wake_ev);
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
    while (dp->pending) sock_drop_pending(dp, dp->pending);
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
