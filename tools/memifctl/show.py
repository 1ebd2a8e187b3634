"""`show interface memif` in TNSR's layout, from a <get> reply; also as JSON."""

from __future__ import annotations

from typing import Any

from lxml import etree

NS = "urn:memif-agent:yang:memif-agent"
Q = f"{{{NS}}}"
ROLE_WORD = {"server": "server", "client": "client"}


def _leaves(el: etree._Element | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if el is None:
        return out
    for c in el:
        if not isinstance(c.tag, str):
            continue
        name = etree.QName(c).localname
        if len(c):
            if name == "queue":
                out.setdefault("queues", []).append(_leaves(c))
            else:
                out[name] = _leaves(c)
        else:
            out[name] = c.text or ""
    return out


def model(data: etree._Element) -> dict[str, list[dict[str, Any]]]:
    """Sockets and interfaces (config + state) from a <data> element."""
    memif = data.find(Q + "memif")
    sockets, interfaces = [], []
    if memif is not None:
        for s in memif.iterfind(Q + "socket"):
            sockets.append(_leaves(s))
        for i in memif.iterfind(Q + "interface"):
            interfaces.append(_leaves(i))
    sockets.sort(key=lambda s: int(s.get("id", 0)))
    interfaces.sort(key=lambda i: (int(i.get("socket-id", 0)), int(i.get("id", 0))))
    return {"sockets": sockets, "interfaces": interfaces}


def _ring_entries(i: dict[str, Any]) -> str:
    st = i.get("state", {})
    if st.get("ring-size"):
        return st["ring-size"]  # negotiated with the peer
    return str(1 << int(i.get("ring-size", 10)))


def brief(m: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["Socket Id  Filename", "---------- " + "-" * 50]
    for s in m["sockets"]:
        lines.append(f"{s.get('id', ''):<10} {s.get('filename', '')}")
    for i in m["interfaces"]:
        st = i.get("state", {})
        name = f"memif{i['socket-id']}/{i['id']}"
        lines += [
            "",
            f"Socket id: {i['socket-id']}",
            f"    Interface id: {i['id']}",
            f"    Interface: {name}",
            f"    Role: {i.get('role', 'server')}",
            f"    Mode: {i.get('mode', 'ethernet')}",
            f"    MAC address: {st.get('mac-address') or i.get('mac-address', '')}",
            f"    Ring size: {_ring_entries(i)}",
            f"    Buffer size: {st.get('buffer-size') or i.get('buffer-size', '2048')}",
            f"    Admin up: {'true' if i.get('enabled') == 'true' else 'false'}",
            f"    Link up: {'true' if st.get('link-status') == 'up' else 'false'}",
        ]
    return "\n".join(lines)


def detail(m: dict[str, list[dict[str, Any]]]) -> str:
    out = [brief({"sockets": m["sockets"], "interfaces": []})]
    for s in m["sockets"]:
        refused = s.get("state", {}).get("last-refusal")
        if refused:
            out.append(f"Socket {s.get('id', '')} last refused: {refused}")
    for i in m["interfaces"]:
        st = i.get("state", {})
        block = brief({"sockets": [], "interfaces": [i]}).split("\n", 2)[2]
        extra = [
            f"    Connection state: {st.get('connection-state', '')}",
            f"    Remote name: {st.get('remote-name', '')}",
            f"    Remote interface: {st.get('remote-interface-name', '')}",
            f"    Local disconnect reason: {st.get('local-disconnect-reason', '')}",
            f"    Remote disconnect reason: {st.get('remote-disconnect-reason', '')}",
            f"    Queues: rx {st.get('rx-queues', '')} tx {st.get('tx-queues', '')}"
            f"  Regions: {st.get('regions', '')}",
        ]
        for q in st.get("queues", []):
            extra.append(
                f"      {q.get('direction', '')} queue {q.get('id', '')}:"
                f" ring {q.get('ring-size', '')}"
                f" head {q.get('head', '')} tail {q.get('tail', '')} packets {q.get('packets', '')}"
                f" bytes {q.get('bytes', '')} interrupts {q.get('interrupts', '')}"
            )
        out.append(block + "\n" + "\n".join(extra))
    return "\n".join(out)


COUNTER_COLUMNS = (
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
    "rx-drops",
    "tx-drops",
    "bad-descriptors",
    "no-free-slots",
)


def counters(m: dict[str, list[dict[str, Any]]]) -> str:
    head = f"{'Interface':<20}" + "".join(f"{c:>16}" for c in COUNTER_COLUMNS)
    lines = [head, "-" * len(head)]
    for i in m["interfaces"]:
        c = i.get("state", {}).get("counters", {})
        name = f"memif{i['socket-id']}/{i['id']}"
        lines.append(f"{name:<20}" + "".join(f"{c.get(k, '0'):>16}" for k in COUNTER_COLUMNS))
    return "\n".join(lines)
