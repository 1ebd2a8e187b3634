"""<memif> operational state for <get>, from Dataplane.state().

Only keys and config-false containers are emitted; <get> merges them with the
running configuration by list keys. Socket 0 is not in running, so its entry
carries its (fixed) filename too.

Names and reasons come from memif peers. The dataplane already hands them over
with undecodable bytes and control characters as \\xNN; every text leaf is
still passed through xml_text, so no string (one lxml would refuse, or a
dataplane in another process that escapes differently) can blind <get>.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from agent.yangdata.schema import MEMIF_NS

Q = f"{{{MEMIF_NS}}}"
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


# Control characters (C0, DEL, C1) and what is not an XML 1.0 Char at all.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def xml_text(v: str | bytes) -> str:
    """`v` as a valid, single-line XML text node: undecodable bytes and unsafe
    characters as \\xNN (\\uNNNN above U+00FF)."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(_escape, v)


def _escape(m: re.Match) -> str:
    o = ord(m.group())
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (str, bytes)):
        return xml_text(v)
    return str(v)


def _leaves(parent: etree._Element, d: dict, names: tuple[str, ...]) -> None:
    for n in names:
        v = d.get(n)
        if v is not None and v != "":
            etree.SubElement(parent, Q + n).text = _text(v)


def _ids(d: dict) -> tuple[int, int]:
    return int(d.get("socket-id", d.get("socket_id"))), int(d["id"])


def memif_state(state: dict, socket0: str) -> etree._Element:
    root = etree.Element(Q + "memif", nsmap={None: MEMIF_NS})
    for s in state.get("sockets", ()):
        el = etree.SubElement(root, Q + "socket")
        etree.SubElement(el, Q + "id").text = str(s["id"])
        if int(s["id"]) == 0:
            etree.SubElement(el, Q + "filename").text = socket0
        _leaves(etree.SubElement(el, Q + "state"), s, SOCKET_STATE)
    for i in state.get("interfaces", ()):
        sid, iid = _ids(i)
        el = etree.SubElement(root, Q + "interface")
        etree.SubElement(el, Q + "socket-id").text = str(sid)
        etree.SubElement(el, Q + "id").text = str(iid)
        st = etree.SubElement(el, Q + "state")
        _leaves(st, {"name": f"memif{sid}/{iid}", **i}, INTERFACE_STATE)
        for q in i.get("queues", ()):
            _leaves(etree.SubElement(st, Q + "queue"), q, QUEUE_LEAVES)
        counters = i.get("counters")
        if counters:
            _leaves(etree.SubElement(st, Q + "counters"), counters, COUNTERS)
    return root
