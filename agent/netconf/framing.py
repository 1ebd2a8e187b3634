"""NETCONF message framing (RFC 6242 section 4), sans-I/O.

A `Framer` is fed raw bytes from the transport and hands back complete
messages one at a time; `encode` frames an outgoing message. Messages are
taken one at a time because the framing mode changes right after <hello>:
bytes that arrived in the same read as the client's hello must be decoded
with the mode the hello negotiated.
"""

from __future__ import annotations

EOM = b"]]>]]>"
BASE10 = "1.0"
BASE11 = "1.1"

# RFC 6242: chunk-size = 1..4294967295, written without leading zeros.
MAX_CHUNK_SIZE = 4294967295
# "\n#" + 10 digits + "\n" is the longest legal chunk header.
_MAX_HEADER = 13
_DIGITS = frozenset(b"0123456789")
# Received data at least this big is kept as a piece of its own (see Framer).
_PIECE = 4096
# base:1.0: an unfinished message's bytes move out of the buffer in pieces of this size.
_EOM_PIECE = 64 * 1024


class Pieces(list):
    """A complete message of at least `Framer.pieces_from` bytes, left as the
    pieces it arrived in: joining 28 MB holds the GIL for ~100 ms here (fresh
    pages), so big messages are read piece by piece, off the event loop."""

    __slots__ = ("size",)

    def __init__(self, parts: list[bytes], size: int) -> None:
        super().__init__(parts)
        self.size = size

    def join(self) -> bytes:
        return self[0] if len(self) == 1 else b"".join(self)


class FramingError(Exception):
    """The peer broke the framing rules; the session cannot continue."""


class MessageTooBig(FramingError):
    """A message exceeded the configured maximum size."""


class Framer:
    """Splits a byte stream into NETCONF messages.

    Starts in base:1.0 end-of-message mode; call `set_chunked()` once both
    hellos advertise base:1.1. `max_message_size` bounds the memory one
    message may take (0 = unlimited).
    """

    __slots__ = (
        "_buf",
        "_chunked",
        "_max",
        "_scan_from",
        "_parts",
        "_small",
        "_held",
        "_size",
        "_need",
        "pieces_from",
    )

    def __init__(self, max_message_size: int = 0) -> None:
        self._buf = bytearray()
        self._chunked = False
        self._max = max_message_size
        self._scan_from = 0  # EOM mode: where the delimiter search resumes
        # chunked mode: the current message so far, as big pieces joined once at
        # its end (appending to one bytearray re-copied it as it grew: ~200 ms
        # per 28 MB message), with small pieces gathered in `_small` first: a
        # peer sending 1-byte chunks must not cost an object each.
        self._parts: list[bytes] = []
        self._small = bytearray()
        self._held = 0
        self._size = 0  # chunked mode: declared size of the chunks so far
        self._need = 0  # chunked mode: bytes still due for the current chunk
        # chunked mode: messages this big come back as Pieces (0 = never)
        self.pieces_from = 0

    @property
    def chunked(self) -> bool:
        return self._chunked

    def set_chunked(self) -> None:
        self._chunked = True
        self._scan_from = 0

    def feed(self, data: bytes) -> None:
        self._buf += data

    def discard(self) -> None:
        """Drop everything buffered: the session is closing, and its memory must
        not wait for the SSH channel's close handshake to finish."""
        self._buf = bytearray()
        self._parts = []
        self._small = bytearray()
        self._size = self._need = self._scan_from = self._held = 0

    def buffered(self) -> int:
        """Bytes held for messages not yet complete (what arrived, not what a
        chunk header announced)."""
        return len(self._buf) + self._held

    def next_message(self) -> bytes | Pieces | None:
        """The next complete message, or None until more bytes arrive.

        Raises FramingError (the session must be closed) on a protocol
        violation or when a message grows beyond the size limit.
        """
        if self._chunked:
            return self._next_chunked()
        return self._next_eom()

    def messages(self, data: bytes = b"") -> list[bytes]:
        """Feed `data` and drain every complete message (fixed framing mode)."""
        if data:
            self.feed(data)
        out = []
        while (msg := self.next_message()) is not None:
            out.append(msg)
        return out

    def _next_eom(self) -> bytes | Pieces | None:
        buf = self._buf
        i = buf.find(EOM, self._scan_from)
        if i < 0:
            keep = len(EOM) - 1  # the delimiter may straddle this read and the next
            if self.pieces_from and len(buf) >= _EOM_PIECE + keep:
                # A long message so far: its bytes move out as a piece, so the
                # buffer is not re-copied as it grows (see Pieces).
                cut = len(buf) - keep
                self._parts.append(bytes(buf[:cut]))
                del buf[:cut]
                self._held += cut
            self._scan_from = max(0, len(buf) - keep)
            if self._max and self._held + len(buf) > self._max + len(EOM):
                raise MessageTooBig(f"message exceeds {self._max} bytes")
            return None
        size = self._held + i
        if self._max and size > self._max:
            raise MessageTooBig(f"message exceeds {self._max} bytes")
        self._scan_from = 0
        if not self._held:
            msg = bytes(buf[:i])
            del buf[: i + len(EOM)]
            return msg
        if i:
            self._parts.append(bytes(buf[:i]))
        del buf[: i + len(EOM)]
        parts = self._parts
        self._parts = []
        self._held = 0
        if size >= self.pieces_from:
            return Pieces(parts, size)
        return b"".join(parts)

    def _next_chunked(self) -> bytes | None:
        buf = self._buf
        if not self._need and not self._held and len(buf) > 8:
            msg = self._one_chunk(buf)
            if msg is not None:
                return msg
        while True:
            if self._need:
                take = min(self._need, len(buf))
                if not take:
                    return None
                self._take(buf, take)
                self._need -= take
                continue
            # At a header: "\n#<size>\n" or the end-of-chunks marker "\n##\n".
            if len(buf) < 4:
                self._check_header_prefix(buf)
                return None
            if buf[0] != 0x0A or buf[1] != 0x23:  # "\n#"
                raise FramingError(f"bad chunk header {bytes(buf[:_MAX_HEADER])!r}")
            if buf[2] == 0x23:  # "#"
                if buf[3] != 0x0A:
                    raise FramingError(f"bad end-of-chunks marker {bytes(buf[:4])!r}")
                del buf[:4]
                if not self._held:
                    raise FramingError("end-of-chunks marker without a chunk")
                msg = self._message()
                self._size = 0
                return msg
            end = buf.find(b"\n", 2, _MAX_HEADER)
            if end < 0:
                self._check_header_prefix(buf)
                if len(buf) >= _MAX_HEADER:
                    raise FramingError(f"chunk header too long {bytes(buf[:_MAX_HEADER])!r}")
                return None
            digits = bytes(buf[2:end])
            if not digits or digits[0] == 0x30 or not _DIGITS.issuperset(digits):
                raise FramingError(f"bad chunk size {digits!r}")
            size = int(digits)
            if size > MAX_CHUNK_SIZE:
                raise FramingError(f"chunk size {size} above {MAX_CHUNK_SIZE}")
            self._size += size
            if self._max and self._size > self._max:
                raise MessageTooBig(f"message exceeds {self._max} bytes")
            del buf[: end + 1]
            self._need = size

    def _take(self, buf: bytearray, take: int) -> None:
        if take >= _PIECE:
            if self._small:
                self._parts.append(bytes(self._small))
                self._small = bytearray()
            self._parts.append(bytes(buf[:take]))
        else:
            self._small += buf[:take]
            if len(self._small) >= _PIECE:
                self._parts.append(bytes(self._small))
                self._small = bytearray()
        del buf[:take]
        self._held += take

    def _message(self) -> bytes | Pieces:
        parts = self._parts
        if self._small:
            parts.append(bytes(self._small))
        if self.pieces_from and self._held >= self.pieces_from:
            msg = Pieces(parts, self._held)
        else:
            msg = parts[0] if len(parts) == 1 else b"".join(parts)
        self._parts = []
        self._small = bytearray()
        self._held = 0
        return msg

    def _one_chunk(self, buf: bytearray) -> bytes | None:
        """The common case, a whole one-chunk message at the start of `buf`, taken
        in one slice; None leaves everything to the general parser."""
        if buf[0] != 0x0A or buf[1] != 0x23 or buf[2] == 0x23:
            return None
        end = buf.find(b"\n", 2, _MAX_HEADER)
        if end < 0:
            return None
        digits = bytes(buf[2:end])
        if not digits or digits[0] == 0x30 or not _DIGITS.issuperset(digits):
            return None  # the general parser words the error
        size = int(digits)
        stop = end + 1 + size
        if size > MAX_CHUNK_SIZE or (self._max and size > self._max):
            return None
        if buf[stop : stop + 4] != b"\n##\n":
            return None
        msg = bytes(buf[end + 1 : stop])
        del buf[: stop + 4]
        return msg

    @staticmethod
    def _check_header_prefix(buf: bytearray) -> None:
        """Reject a broken header as soon as its first bytes show it, not later."""
        if buf[:1] and buf[0] != 0x0A:
            raise FramingError(f"bad chunk header {bytes(buf[:_MAX_HEADER])!r}")
        if len(buf) >= 2 and buf[1] != 0x23:
            raise FramingError(f"bad chunk header {bytes(buf[:_MAX_HEADER])!r}")
        if len(buf) >= 3 and buf[2] != 0x23 and buf[2] not in _DIGITS:
            raise FramingError(f"bad chunk header {bytes(buf[:_MAX_HEADER])!r}")
        if len(buf) >= 3 and buf[2] == 0x30:
            raise FramingError(f"bad chunk size {bytes(buf[2:_MAX_HEADER])!r}")

    def encode(self, message: bytes) -> bytes:
        return encode(message, self._chunked)


def encode(message: bytes, chunked: bool) -> bytes:
    """Frame one outgoing message (a single chunk in base:1.1)."""
    if chunked:
        if not message:
            raise ValueError("an empty message cannot be chunk-framed")
        return b"\n#%d\n%s\n##\n" % (len(message), message)
    return message + EOM
