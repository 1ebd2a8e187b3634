"""A pure-Python memif client that can say anything: for tests that attack our
server with malformed control messages and corrupt shared memory."""

from __future__ import annotations

import fcntl
import mmap
import os
import socket
import struct

MSG = 128
ACK, HELLO, INIT, ADD_REGION, ADD_RING, CONNECT, CONNECTED, DISCONNECT = range(1, 9)
COOKIE = 0x3E31F20
RING_HDR = 128  # two 64-byte cache lines on x86_64


def msg(type_: int, fmt: str = "", *fields) -> bytes:
    body = struct.pack("<H" + fmt, type_, *fields)
    return body + b"\0" * (MSG - len(body))


class HostileClient:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.region: mmap.mmap | None = None
        self.fds: list[int] = []
        self.last = b""  # the last message received

    def send(self, raw: bytes, fd: int | None = None) -> None:
        anc = (
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", fd))] if fd is not None else []
        )
        self.sock.sendmsg([raw], anc)

    def recv(self) -> tuple[int, bytes]:
        """(type, whole message); (0, b'') when the server closed the connection."""
        try:
            data = self.sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            return 0, b""
        if not data:
            return 0, b""
        self.last = data
        return struct.unpack_from("<H", data)[0], data

    def reason(self, data: bytes) -> str:
        return data[6:102].split(b"\0", 1)[0].decode(errors="replace")

    def expect_disconnect(self) -> str:
        """The DISCONNECT reason, from the last message or the next ones ('' on EOF)."""
        if self.last[:2] == struct.pack("<H", DISCONNECT):
            return self.reason(self.last)
        while True:
            t, data = self.recv()
            if t == DISCONNECT:
                return self.reason(data)
            if t == 0:
                return ""

    # -- a well-formed handshake, with hooks to break it -------------------------------------

    def hello(self) -> None:
        t, _ = self.recv()
        assert t == HELLO

    def init(self, if_id: int, secret: bytes = b"", mode: int = 0) -> int:
        self.send(msg(INIT, "HIB24s32s", 0x0200, if_id, mode, secret, b"hostile"))
        return self.recv()[0]

    def make_region(self, log2: int = 4, bsize: int = 256, seal: bool = True) -> tuple[int, int]:
        """One region: S2M ring, M2S ring, then 2*N buffers, in a memfd sealed
        against shrinking unless `seal` is false. Returns (fd, size)."""
        n = 1 << log2
        self.log2, self.bsize, self.n = log2, bsize, n
        self.ring_bytes = RING_HDR + 16 * n
        self.buf_off = 2 * self.ring_bytes
        size = self.buf_off + 2 * n * bsize
        fd = os.memfd_create("hostile region", os.MFD_ALLOW_SEALING)
        os.ftruncate(fd, size)
        if seal:
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
        self.region = mmap.mmap(fd, size)
        for r in range(2):
            base = r * self.ring_bytes
            struct.pack_into("<IHH", self.region, base, COOKIE, 0, 0)
            for j in range(n):
                struct.pack_into(
                    "<HHII",
                    self.region,
                    base + RING_HDR + 16 * j,
                    0,
                    0,
                    bsize,
                    self.buf_off + (r * n + j) * bsize,
                )
        self.fds.append(fd)
        return fd, size

    def add_region(self, fd: int | None, size: int, index: int = 0) -> int:
        self.send(msg(ADD_REGION, "HQ", index, size), fd)
        return self.recv()[0]

    def add_ring(
        self,
        s2m: bool,
        offset: int,
        fd: int | None = -2,
        index: int = 0,
        log2: int | None = None,
        region: int = 0,
        private: int = 0,
    ) -> int:
        if fd == -2:
            fd = os.eventfd(0, os.EFD_NONBLOCK)
            self.fds.append(fd)
        self.send(
            msg(
                ADD_RING,
                "HHHIBH",
                1 if s2m else 0,
                index,
                region,
                offset,
                log2 if log2 is not None else self.log2,
                private,
            ),
            fd,
        )
        return self.recv()[0]

    def connect_msg(self) -> int:
        self.send(msg(CONNECT, "32s", b"hostile0"))
        return self.recv()[0]

    def full_handshake(self, if_id: int) -> None:
        self.hello()
        assert self.init(if_id) == ACK
        fd, size = self.make_region()
        assert self.add_region(fd, size) == ACK
        assert self.add_ring(True, 0) == ACK
        assert self.add_ring(False, self.ring_bytes) == ACK
        assert self.connect_msg() == CONNECTED

    def put_s2m(self, descs: list[tuple[int, int, int, int]]) -> None:
        """Write (flags, region, length, offset) descriptors and publish head."""
        assert self.region is not None
        head = struct.unpack_from("<H", self.region, 6)[0]
        for k, (flags, region, length, offset) in enumerate(descs):
            slot = (head + k) % self.n
            struct.pack_into(
                "<HHII", self.region, RING_HDR + 16 * slot, flags, region, length, offset
            )
        struct.pack_into("<H", self.region, 6, (head + len(descs)) & 0xFFFF)

    def close(self) -> None:
        self.sock.close()
        if self.region is not None:
            self.region.close()
        for fd in self.fds:
            os.close(fd)
