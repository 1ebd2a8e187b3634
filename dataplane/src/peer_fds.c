/* Checks on the file descriptors a peer hands over, before we map or poll
 * them (see peer_fds.h). */
#define _GNU_SOURCE
#include "peer_fds.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* A region fd we may map for `size` bytes: a file sealed against shrinking
 * (else the peer can truncate it under our mapping and the next ring access
 * is a SIGBUS) and at least that large. */
const char *peer_region_fd_check(int fd, uint64_t size) {
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
const char *peer_interrupt_fd_check(int fd) {
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
