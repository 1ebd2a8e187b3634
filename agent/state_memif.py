"""<memif> operational state for <get>, from Dataplane.state().

Only keys and config-false containers are emitted; <get> merges them with the
running configuration by list keys. Socket 0 is not in running, so its entry
carries its (fixed) filename too.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from agent.schema import MEMIF_NS

Q = f"{{{MEMIF_NS}}}"
SOCKET_STATE = ("listening", "role", "interface-count", "error", "last-refusal")
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
    "interrupts",
)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
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
