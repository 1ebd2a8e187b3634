/* Control messages on a memif control socket (SOCK_SEQPACKET): the only code
 * that reads or writes those datagrams. Every call is non-blocking. */
#ifndef MEMIF_CTRL_IO_H
#define MEMIF_CTRL_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "ctrl.h"

/* One message, with `passfd` attached unless it is -1. 0, or -1 when the
 * datagram did not go out whole. */
int wire_send_msg(int fd, const ctrl_msg_t *m, int passfd);
int wire_send_ack(int fd);
int wire_send_hello(int fd, const char *app_name);
int wire_send_disconnect(int fd, const char *reason);
/* One datagram; *fd_out gets the first passed fd (others are closed). Returns its
 * length (cap + 1 if it was longer than cap), 0 on EOF, -1 on error (EAGAIN
 * included). */
ssize_t wire_recv_msg(int fd, uint8_t *buf, size_t cap, int *fd_out);

#endif
