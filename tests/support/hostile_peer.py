"""Pure-Python memif peers that can say anything: a client that attacks our
server (malformed control messages, lying fds, corrupt shared memory) and a
server that attacks our client (its names, reasons and ring indices)."""

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

    def init(self, if_id: int, secret: bytes = b"", mode: int = 0, name: bytes = b"hostile") -> int:
        self.send(msg(INIT, "HIB24s32s", 0x0200, if_id, mode, secret, name))
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

    def connect_msg(self, if_name: bytes = b"hostile0") -> int:
        self.send(msg(CONNECT, "32s", if_name))
        return self.recv()[0]

    def disconnect(self, reason: bytes) -> None:
        self.send(msg(DISCONNECT, "I96s", 0, reason))

    def full_handshake(
        self, if_id: int, name: bytes = b"hostile", if_name: bytes = b"hostile0", hello: bool = True
    ) -> None:
        if hello:
            self.hello()
        assert self.init(if_id, name=name) == ACK
        fd, size = self.make_region()
        assert self.add_region(fd, size) == ACK
        assert self.add_ring(True, 0, fd=self.efd(True)) == ACK
        assert self.add_ring(False, self.ring_bytes, fd=self.efd(False)) == ACK
        assert self.connect_msg(if_name) == CONNECTED

    def efd(self, s2m: bool) -> int:
        """The eventfd of the S2M (our transmit) or M2S ring, kept for later use."""
        fd = os.eventfd(0, os.EFD_NONBLOCK)
        self.fds.append(fd)
        if s2m:
            self.s2m_efd = fd
        else:
            self.m2s_efd = fd
        return fd

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


class HostileServer:
    """Listens on `path` for one of our clients and answers as told: every name
    and reason is raw bytes, and once connected it holds the client's region
    (mapped) and can publish any tail on the client's rings."""

    def __init__(self, path: str, name: bytes = b"hostile-server") -> None:
        self.lsock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.lsock.bind(path)
        self.lsock.listen(4)
        self.lsock.settimeout(10)
        self.name = name
        self.conn: socket.socket | None = None
        self.region: mmap.mmap | None = None
        self.rings: list[tuple[int, int, int]] = []  # (flags, offset, log2) in ADD_RING order
        self.fds: list[int] = []

    def accept(self, hello: bool = True) -> None:
        self.conn, _ = self.lsock.accept()
        self.conn.settimeout(10)
        if hello:
            self.hello()

    def hello(self) -> None:
        self.send(msg(HELLO, "32sHHHHHB", self.name, 0x0200, 0x0200, 0, 0, 0, 10))

    def recv(self) -> tuple[int, bytes, int | None]:
        """(type, message, passed fd or None); type 0 on EOF."""
        assert self.conn is not None
        try:
            data, anc, _, _ = self.conn.recvmsg(256, socket.CMSG_SPACE(4 * 4))
        except (ConnectionResetError, TimeoutError):
            return 0, b"", None
        fd = None
        for level, kind, raw in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = struct.unpack_from("i", raw)[0]
                self.fds.append(fd)
        if not data:
            return 0, b"", None
        return struct.unpack_from("<H", data)[0], data, fd

    def send(self, raw: bytes) -> None:
        assert self.conn is not None
        self.conn.send(raw)

    def handshake(self, if_name: bytes = b"hostile-if") -> None:
        """ACK INIT, ADD_REGION and each ADD_RING, answer CONNECT with CONNECTED."""
        while True:
            t, data, fd = self.recv()
            assert t != 0, "our client hung up during the handshake"
            if t == ADD_REGION:
                size = struct.unpack_from("<Q", data, 4)[0]
                assert fd is not None
                self.region = mmap.mmap(fd, size)
            elif t == ADD_RING:
                flags, _index, _region, offset, log2 = struct.unpack_from("<HHHIB", data, 2)
                self.rings.append((flags, offset, log2))
            if t == CONNECT:
                self.send(msg(CONNECTED, "32s", if_name))
                return
            self.send(msg(ACK))

    def set_tail(self, s2m: bool, value: int) -> None:
        """Publish `value` as the tail of the first ring of that direction."""
        assert self.region is not None
        for flags, offset, _log2 in self.rings:
            if bool(flags & 1) == s2m:
                struct.pack_into("<H", self.region, offset + 64, value & 0xFFFF)
                return
        raise AssertionError("no such ring")

    def close(self) -> None:
        for s in (self.conn, self.lsock):
            if s is not None:
                s.close()
        if self.region is not None:
            self.region.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
