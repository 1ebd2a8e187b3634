"""The dataplane's state in the binary form of `src/state_blob.h`, read in
Python: `decode(blob)` gives the dicts `Dataplane.state()` gives, for readers
that want values rather than XML (ietf-interfaces, tests). The agent's XML for
<memif> comes from `format_state`, the same layout read in C.

Every count, length and code is checked against the bytes there are: the blob
comes from a process that maps memory a memif peer writes into.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from dataplane._memif import format_state

__all__ = ["BadBlob", "StateText", "decode", "format_state", "from_wire"]

MAGIC = b"MSB1"
MAX_ITEMS = 100_000
MAX_QUEUES = 512
MAX_STRING = 4096
COUNTERS = (
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
    "rx-drops",
    "tx-drops",
    "bad-descriptors",
    "no-free-slots",
    "ring-overruns",
    "interrupts",
)
STATES = ("disabled", "listening", "connecting", "handshake", "connected")
ROLES = {1: "server", 2: "client"}
_HEADER = struct.Struct("<4sII")
_SOCKET = struct.Struct("<IBBHIIQ")
_ITF = struct.Struct("<IIBBBBBBHHHI10Q")
_QUEUE = struct.Struct("<IHHQQQ")
_U16 = struct.Struct("<H")


class BadBlob(ValueError):
    """The bytes are not a state blob the layout allows."""


def peer_text(raw: bytes) -> str:
    """A peer's string as Dataplane.state() gives it: control characters and
    bytes of no valid UTF-8 sequence as \\xNN."""
    if raw.isascii():
        text = raw.decode("ascii")
        if text.isprintable():  # nearly every name and reason
            return text
    out = "".join(f"\\x{c:02x}" if c < 0x20 or c == 0x7F else chr(c) for c in raw)
    return out.encode("latin-1").decode("utf-8", "backslashreplace")


class _Reader:
    def __init__(self, blob: bytes) -> None:
        self.blob = blob
        self.at = 0

    def take(self, st: struct.Struct) -> tuple:
        if len(self.blob) - self.at < st.size:
            raise BadBlob("state blob truncated")
        v = st.unpack_from(self.blob, self.at)
        self.at += st.size
        return v

    def string(self) -> str:
        (n,) = self.take(_U16)
        if n > MAX_STRING:
            raise BadBlob("state blob string too long")
        if len(self.blob) - self.at < n:
            raise BadBlob("state blob truncated")
        raw = self.blob[self.at : self.at + n]
        self.at += n
        return peer_text(raw)


def decode(blob: bytes) -> dict[str, list[dict[str, Any]]]:
    """{"sockets": [...], "interfaces": [...]}, keyed as Dataplane.state()."""
    r = _Reader(bytes(blob))
    magic, ns, ni = r.take(_HEADER)
    if magic != MAGIC:
        raise BadBlob("not a state blob")
    if ns > MAX_ITEMS or ni > MAX_ITEMS:
        raise BadBlob("state blob: too many entries")
    sockets = []
    for _ in range(ns):
        sid, listening, role, _pad, count, pending, dropped = r.take(_SOCKET)
        filename, error, refused = r.string(), r.string(), r.string()
        if listening > 1 or role > 2:
            raise BadBlob("state blob socket flags out of range")
        s: dict[str, Any] = {"id": sid, "filename": filename, "listening": bool(listening)}
        if role:
            s["role"] = ROLES[role]
        s.update(
            {
                "interface-count": count,
                "pending-connections": pending,
                "dropped-connections": dropped,
            }
        )
        if error:
            s["error"] = error
        if refused:
            s["last-refusal"] = refused
        sockets.append(s)
    interfaces = []
    for _ in range(ni):
        sid, iid, role, mode, enabled, state, log2, regions, nrx, ntx, _pad, bsize, *cs = r.take(
            _ITF
        )
        mac, lreason, rreason, rname, rif = (r.string() for _ in range(5))
        up = state == 4
        if role not in ROLES or mode > 1 or enabled > 1 or state > 4 or log2 > 31:
            raise BadBlob("state blob interface fields out of range")
        if not up and (nrx or ntx or log2 or regions or bsize):
            raise BadBlob("state blob: link details of an interface that is not connected")
        if nrx + ntx > MAX_QUEUES:
            raise BadBlob("state blob: too many queues")
        i: dict[str, Any] = {
            "socket-id": sid,
            "id": iid,
            "name": f"memif{sid}/{iid}",
            "role": ROLES[role],
            "mode": "ip" if mode else "ethernet",
            "admin-status": "up" if enabled else "down",
            "link-status": "up" if up else "down",
            "connection-state": STATES[state],
        }
        if mac:
            i["mac-address"] = mac
        i["local-disconnect-reason"] = lreason
        i["remote-disconnect-reason"] = rreason
        i["remote-name"] = rname
        i["remote-interface-name"] = rif
        if up:
            i["ring-size"] = 1 << log2
            if bsize:
                i["buffer-size"] = bsize
            i["rx-queues"], i["tx-queues"], i["regions"] = nrx, ntx, regions
            queues = []
            for k in range(nrx + ntx):
                ring, head, tail, packets, nbytes, intr = r.take(_QUEUE)
                queues.append(
                    {
                        "direction": "rx" if k < nrx else "tx",
                        "id": k if k < nrx else k - nrx,
                        "ring-size": ring,
                        "head": head,
                        "tail": tail,
                        "packets": packets,
                        "bytes": nbytes,
                        "interrupts": intr,
                    }
                )
            i["queues"] = queues
        i["counters"] = dict(zip(COUNTERS, cs, strict=True))
        interfaces.append(i)
    if r.at != len(r.blob):
        raise BadBlob("state blob: bytes after the last entry")
    return {"sockets": sockets, "interfaces": interfaces}


@dataclass(frozen=True)
class StateText:
    """One read of the dataplane: the blob, and each entry's <state> element as
    XML text by (tag, key values), for the tags given to from_wire."""

    blob: bytes
    fragments: dict[tuple[Any, tuple[str, ...]], bytes]

    def values(self) -> dict[str, list[dict[str, Any]]]:
        return decode(self.blob)


def from_wire(v: Any, socket_tag: Any = "socket", interface_tag: Any = "interface") -> StateText:
    """A state_blob reply, checked whole (BadBlob if any of it is out of bounds)."""
    if not isinstance(v, bytes):
        raise BadBlob("state blob is not bytes")
    try:
        fragments = format_state(v, socket_tag, interface_tag)
    except ValueError as e:
        raise BadBlob(str(e)) from None
    return StateText(v, fragments)
