"""State blobs (dataplane/src/state_blob.h) written field by field, and the
<memif> state text the agent wrote from Dataplane.state() dicts before the
blob existed, kept as the oracle the C formatter is held to."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from agent.memif.state import MEMIF_NS, text_markup
from dataplane.state_blob import COUNTERS as COUNTERS_OF_BLOB

COUNTERS = 10


def string(raw: bytes) -> bytes:
    return struct.pack("<H", len(raw)) + raw


def sock(
    id: int,
    listening: int = 1,
    role: int = 1,
    count: int = 0,
    pending: int = 0,
    dropped: int = 0,
    filename: bytes = b"/run/x.sock",
    error: bytes = b"",
    refused: bytes = b"",
) -> bytes:
    return (
        struct.pack("<IBBHIIQ", id, listening, role, 0, count, pending, dropped)
        + string(filename)
        + string(error)
        + string(refused)
    )


def itf(
    sid: int,
    iid: int,
    role: int = 1,
    mode: int = 0,
    enabled: int = 1,
    state: int = 1,
    log2: int = 0,
    regions: int = 0,
    rx: Sequence[tuple[int, ...]] = (),
    tx: Sequence[tuple[int, ...]] = (),
    bsize: int = 0,
    counters: Sequence[int] = (0,) * COUNTERS,
    strings: Sequence[bytes] = (b"",) * 5,
    nrx: int | None = None,
    ntx: int | None = None,
) -> bytes:
    """strings: mac, local and remote reason, remote name, remote interface name;
    rx/tx: (ring size, head, tail, packets, bytes, interrupts) per queue."""
    out = struct.pack(
        "<IIBBBBBBHHHI10Q",
        sid,
        iid,
        role,
        mode,
        enabled,
        state,
        log2,
        regions,
        len(rx) if nrx is None else nrx,
        len(tx) if ntx is None else ntx,
        0,
        bsize,
        *counters,
    )
    out += b"".join(string(s) for s in strings)
    for q in (*rx, *tx):
        out += struct.pack("<IHHQQQ", *q)
    return out


def blob(sockets: Sequence[bytes] = (), interfaces: Sequence[bytes] = ()) -> bytes:
    return (
        b"MSB1"
        + struct.pack("<II", len(sockets), len(interfaces))
        + b"".join((*sockets, *interfaces))
    )


# -- the oracle: the dict-to-text builder <get> used before the blob ------------------------------

SOCKET_STATE = (
    "listening",
    "role",
    "interface-count",
    "pending-connections",
    "dropped-connections",
    "error",
    "last-refusal",
)
INTERFACE_STATE = (
    "name",
    "admin-status",
    "link-status",
    "connection-state",
    "mac-address",
    "local-disconnect-reason",
    "remote-disconnect-reason",
    "remote-name",
    "remote-interface-name",
    "ring-size",
    "buffer-size",
    "rx-queues",
    "tx-queues",
    "regions",
)
QUEUE_LEAVES = ("direction", "id", "ring-size", "head", "tail", "packets", "bytes", "interrupts")


def _leaves(out: list[str], d: dict, names: tuple[str, ...]) -> None:
    for name in names:
        v = d.get(name)
        if v is not None and v != "":
            out.append(f"<{name}>{text_markup(v)}</{name}>")


def oracle_text(state: dict, socket0: str) -> str:
    """<memif> of a Dataplane.state() dict (checked by dataplane.control_replies)."""
    out = [f'<memif xmlns="{MEMIF_NS}">']
    for s in state["sockets"]:
        out.append(f"<socket><id>{s['id']}</id>")
        if s["id"] == 0:
            out.append(f"<filename>{text_markup(socket0)}</filename>")
        out.append("<state>")
        _leaves(out, s, SOCKET_STATE)
        out.append("</state></socket>")
    for i in state["interfaces"]:
        out.append(f"<interface><socket-id>{i['socket-id']}</socket-id><id>{i['id']}</id><state>")
        _leaves(out, i, INTERFACE_STATE)
        for q in i.get("queues", ()):
            out.append("<queue>")
            _leaves(out, q, QUEUE_LEAVES)
            out.append("</queue>")
        out.append("<counters>")
        _leaves(out, i["counters"], COUNTERS_OF_BLOB)
        out.append("</counters></state></interface>")
    out.append("</memif>")
    return "".join(out)
