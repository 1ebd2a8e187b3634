/* What a peer hands over as file descriptors is checked before we map it or
 * read and write it from the loop. Each check returns NULL or the DISCONNECT
 * reason. */
#ifndef MEMIF_PEER_FDS_H
#define MEMIF_PEER_FDS_H

#include <stdint.h>

const char *peer_region_fd_check(int fd, uint64_t size);
const char *peer_interrupt_fd_check(int fd);

#endif
