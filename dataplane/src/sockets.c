/* Socket files: registration, the listening socket and its file (mode, owner,
 * stale files), accepting connections with their limits and fd-exhaustion
 * backoff, and the accepted connections still waiting for INIT. */
#define _GNU_SOURCE
#include "dp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void set_err(char *err, size_t n, const char *fmt, const char *a, const char *b) {
    snprintf(err, n, fmt, a ? a : "", b ? b : "");
}

void sock_drop_pending(dp_t *dp, pending_t *p) {
    dp->gen++;
    pending_t **pp = &dp->pending;
    while (*pp && *pp != p) pp = &(*pp)->next;
    if (*pp) *pp = p->next;
    p->sock->n_pending--;
    if (p->fd >= 0) { dp_ep_del(dp, p->fd); close(p->fd); }
    free(p);
}

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

int sock_listen(dp_t *dp, sock_t *s, char *err, size_t n) {
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
    dp_ep_add(dp, fd, &s->ev);
    s->error[0] = 0;
    return 0;
}

void sock_unlisten(dp_t *dp, sock_t *s) {
    if (s->listen_fd < 0) return;
    dp->gen++;
    if (s->accept_resume == 0) dp_ep_del(dp, s->listen_fd);
    s->accept_resume = 0;
    close(s->listen_fd);
    s->listen_fd = -1;
    unlink(s->path);
    for (pending_t *p = dp->pending, *nx; p; p = nx) {
        nx = p->next;
        if (p->sock == s) sock_drop_pending(dp, p);
    }
}

/* Out of fds (or memory): take the listen fd out of epoll for a while, else
 * level-triggered epoll reports it again at once and the loop spins. */
static void accept_backoff(dp_t *dp, sock_t *s) {
    dp_ep_del(dp, s->listen_fd);
    s->accept_resume = dp_now() + DP_ACCEPT_BACKOFF;
}

void sock_on_accept(dp_t *dp, sock_t *s) {
    for (int k = 0; k < 64; k++) { /* a bounded batch: other fds get their turn */
        int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) return;
            accept_backoff(dp, s); /* the connection waits in the backlog */
            return;
        }
        if (s->n_pending >= dp->max_pending) {
            wire_send_disconnect(fd, "too many pending connections");
            close(fd);
            s->dropped++;
            continue;
        }
        pending_t *p = calloc(1, sizeof(*p));
        if (!p) { close(fd); s->dropped++; continue; }
        s->n_pending++;
        p->fd = fd;
        p->sock = s;
        p->deadline = dp_now() + dp->hs_timeout;
        p->ev = (evtag_t){.type = EV_PENDING, .obj = p};
        p->next = dp->pending;
        dp->pending = p;
        dp_ep_add(dp, fd, &p->ev);
        wire_send_hello(fd, dp->app_name);
    }
}

sock_t *dp_find_socket(dp_t *dp, uint32_t sid) {
    for (sock_t *s = dp->sockets; s; s = s->next)
        if (s->id == sid) return s;
    return NULL;
}

int sock_users(dp_t *dp, sock_t *s, int role) {
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
