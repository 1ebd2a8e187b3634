"""Frames of the control channel between the agent and its dataplane process.

Sans-I/O: encode() makes bytes, Decoder.feed() takes whatever bytes arrived
and returns the complete frames. A frame is a 12-byte header

    version u16 | kind u16 | request id u32 | payload length u32   (big endian)

followed by `length` bytes of a JSON object, or for BYTES of the reply's
bytes as they are (the state blob: base64 in JSON cost more than making
it). Either end may be broken or hostile (the dataplane process maps rings a
peer writes into), so the decoder refuses an unknown version or kind, a
payload over MAX_PAYLOAD, invalid UTF-8 or JSON and a payload that is not an
object, with ProtocolError; after one
error the stream is out of step and the decoder stays failed.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

VERSION = 1
HEADER = struct.Struct("!HHII")

REQUEST = 1  # agent -> dataplane: {"method": str, "args": [...], "kwargs": {...}}
REPLY = 2  # dataplane -> agent: {"result": ...}
ERROR = 3  # dataplane -> agent: {"error": str, "type": str}
EVENTS = 4  # dataplane -> agent, unsolicited (id 0): {"events": [...]}
BYTES = 5  # dataplane -> agent: a reply whose result is the payload; decoded as {"result": b"..."}
KINDS = frozenset((REQUEST, REPLY, ERROR, EVENTS, BYTES))

# A state() reply for thousands of interfaces is a few MB; nothing legitimate
# comes near this, and it bounds what a broken peer can make the agent buffer.
MAX_PAYLOAD = 16 * 1024 * 1024


class ProtocolError(Exception):
    """The other end sent something that is not a valid frame."""


@dataclass(frozen=True)
class Frame:
    kind: int
    id: int
    body: dict[str, Any]


def encode(kind: int, id: int, body: dict[str, Any]) -> bytes:
    if kind not in KINDS:
        raise ValueError(f"unknown frame kind {kind}")
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode()
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(VERSION, kind, id & 0xFFFFFFFF, len(payload)) + payload


def encode_bytes(id: int, payload: bytes) -> bytes:
    """A BYTES reply."""
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD}")
    return HEADER.pack(VERSION, BYTES, id & 0xFFFFFFFF, len(payload)) + payload


class Decoder:
    def __init__(self, max_payload: int = MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self._buf = bytearray()
        self._failed: ProtocolError | None = None

    def feed(self, data: bytes) -> list[Frame]:
        if self._failed is not None:
            raise self._failed
        self._buf += data
        out: list[Frame] = []
        try:
            while len(self._buf) >= HEADER.size:
                version, kind, id, length = HEADER.unpack_from(self._buf)
                if version != VERSION:
                    raise ProtocolError(f"control frame version {version}, expected {VERSION}")
                if kind not in KINDS:
                    raise ProtocolError(f"unknown control frame kind {kind}")
                if length > self.max_payload:
                    raise ProtocolError(
                        f"control frame of {length} bytes exceeds {self.max_payload}"
                    )
                end = HEADER.size + length
                if len(self._buf) < end:
                    break
                raw = bytes(self._buf[HEADER.size : end])
                del self._buf[:end]
                out.append(Frame(kind, id, {"result": raw} if kind == BYTES else _body(raw)))
        except ProtocolError as e:
            self._failed = e
            self._buf.clear()
            raise
        return out

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise ProtocolError(f"control frame payload is not JSON: {e}") from None
    if not isinstance(body, dict):
        raise ProtocolError("control frame payload is not a JSON object")
    return body
