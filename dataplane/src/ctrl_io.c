/* Control messages on the socket: every function here reads or writes the
 * wire (one 128-byte SEQPACKET datagram, at most one passed fd). Encoding is
 * ctrl.c's; what to send is decided by handshake.c. */
#define _GNU_SOURCE
#include "ctrl_io.h"

#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "handshake.h"

int wire_send_msg(int fd, const ctrl_msg_t *m, int passfd) {
    uint8_t buf[MEMIF_MSG_SIZE];
    wire_build_msg(m, buf);
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

/* See ctrl_io.h. */
ssize_t wire_recv_msg(int fd, uint8_t *buf, size_t cap, int *fd_out) {
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

int wire_send_hello(int fd, const char *app_name) {
    ctrl_msg_t m;
    hs_hello(&m, app_name);
    return wire_send_msg(fd, &m, -1);
}

int wire_send_ack(int fd) {
    ctrl_msg_t m = {.type = MSG_ACK};
    return wire_send_msg(fd, &m, -1);
}

int wire_send_disconnect(int fd, const char *reason) {
    ctrl_msg_t m = {.type = MSG_DISCONNECT};
    snprintf(m.u.disconnect.string, sizeof(m.u.disconnect.string), "%s", reason);
    return wire_send_msg(fd, &m, -1);
}

