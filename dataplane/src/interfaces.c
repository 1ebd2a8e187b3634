/* The interface table and each interface's connection resources: queues,
 * mapped regions, eventfds, and the transitions between idle, handshake and
 * connected that acquire and release them. */
#define _GNU_SOURCE
#include "dp_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

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

int itf_idle_state(itf_t *i) {
    if (!i->enabled) return ST_DISABLED;
    return i->role == ROLE_SERVER ? ST_LISTENING : ST_CONNECTING;
}

/* Unmap, close, forget the connection; a link that was up goes down with `reason`. */
void itf_teardown(dp_t *dp, itf_t *i, const char *local_reason) {
    int was_up = i->state == ST_CONNECTED;
    dp->gen++;
    if (i->fd >= 0) {
        dp_ep_del(dp, i->fd);
        close(i->fd);
        i->fd = -1;
    }
    for (int k = 0; k < MAX_QUEUES; k++) {
        if (i->s2m && i->s2m[k].efd >= 0) { dp_ep_del(dp, i->s2m[k].efd); close(i->s2m[k].efd); }
        if (i->m2s && i->m2s[k].efd >= 0) { dp_ep_del(dp, i->m2s[k].efd); close(i->m2s[k].efd); }
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
    i->state = itf_idle_state(i);
    i->retry_at = dp_now() + 1.0;
    if (local_reason && *local_reason)
        snprintf(i->local_reason, sizeof(i->local_reason), "%s", local_reason);
    if (was_up) dp_push_link(dp, i, 0, local_reason && *local_reason ? local_reason : i->remote_reason);
}

void itf_disconnect(dp_t *dp, itf_t *i, const char *reason) {
    if (i->fd >= 0) {
        ctrl_msg_t m = {.type = MSG_DISCONNECT};
        snprintf(m.u.disconnect.string, sizeof(m.u.disconnect.string), "%s", reason);
        wire_send_msg(i->fd, &m, -1);
    }
    itf_teardown(dp, i, reason);
}

int itf_alloc_queues(itf_t *i) {
    i->s2m = calloc(MAX_QUEUES, sizeof(queue_t));
    i->m2s = calloc(MAX_QUEUES, sizeof(queue_t));
    i->rx_ev = calloc(MAX_QUEUES, sizeof(evtag_t));
    if (!i->s2m || !i->m2s || !i->rx_ev) return -1;
    for (int k = 0; k < MAX_QUEUES; k++) i->s2m[k].efd = i->m2s[k].efd = -1;
    return 0;
}

void itf_link_up(dp_t *dp, itf_t *i) {
    i->rc.regions = i->regions;
    i->rc.n_regions = i->n_regions;
    i->rc.master = i->role == ROLE_SERVER;
    int nrx;
    queue_t *rx = itf_rxq(i, &nrx);
    for (int k = 0; k < nrx; k++) {
        i->rx_ev[k] = (evtag_t){.type = EV_RXQ, .obj = i, .q = k};
        dp_ep_add_events(dp, rx[k].efd, EPOLLIN | EPOLLET, &i->rx_ev[k]);
    }
    i->state = ST_CONNECTED;
    i->overrun_logged = 0;
    i->local_reason[0] = i->remote_reason[0] = 0;
    dp_push_link(dp, i, 1, "connected");
}

itf_t *dp_find(dp_t *dp, uint32_t sid, uint32_t id) {
    for (itf_t *i = dp->itfs; i; i = i->next)
        if (i->sid == sid && i->id == id) return i;
    return NULL;
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
    i->state = itf_idle_state(i);
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
    itf_disconnect(dp, i, "interface deleted");
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
        itf_disconnect(dp, i, "admin down");
    } else {
        i->state = itf_idle_state(i);
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
