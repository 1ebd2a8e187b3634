"""`show interface memif` in TNSR's layout, from a <get> reply; also as JSON."""

from __future__ import annotations

from typing import Any

from lxml import etree

NS = "urn:memif-agent:yang:memif-agent"
Q = f"{{{NS}}}"
# The model's defaults, for a <get> that leaves defaults out.
DEFAULT_RING_LOG2 = 10
DEFAULT_BUFFER_SIZE = "2048"


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


def _in_use(i: dict[str, Any], leaf: str) -> str:
    """A size as negotiated with the peer; TNSR shows 0 while the link is down."""
    st = i.get("state", {})
    if st.get("link-status") != "up":
        return "0"
    return st.get(leaf) or "0"


def _block(i: dict[str, Any]) -> list[str]:
    st = i.get("state", {})
    name = f"memif{i['socket-id']}/{i['id']}"
    return [
        f"{name}:",
        f"    Socket id: {i['socket-id']}",
        f"    Interface id: {i['id']}",
        f"    Interface: {name}",
        f"    Role: {i.get('role', 'server')}",
        f"    Mode: {i.get('mode', 'ethernet')}",
        f"    MAC address: {st.get('mac-address') or i.get('mac-address', '')}",
        f"    Ring size: {_in_use(i, 'ring-size')}",
        f"    Buffer size: {_in_use(i, 'buffer-size')}",
        f"    Admin up: {'true' if i.get('enabled') == 'true' else 'false'}",
        f"    Link up: {'true' if st.get('link-status') == 'up' else 'false'}",
    ]


def _socket_table(sockets: list[dict[str, Any]]) -> list[str]:
    lines = ["Socket Id  Filename", "---------- " + "-" * 50]
    for s in sockets:
        lines.append(f"{s.get('id', ''):<10} {s.get('filename', '')}")
    return lines


def brief(m: dict[str, list[dict[str, Any]]]) -> str:
    lines = _socket_table(m["sockets"])
    for i in m["interfaces"]:
        lines += ["", *_block(i)]
    return "\n".join(lines)


def detail(m: dict[str, list[dict[str, Any]]]) -> str:
    lines = _socket_table(m["sockets"])
    for s in m["sockets"]:
        st = s.get("state", {})
        if "pending-connections" in st or "dropped-connections" in st:
            # A socket being squatted or flooded shows here before any link suffers.
            pending = st.get("pending-connections", "0")
            dropped = st.get("dropped-connections", "0")
            lines.append(
                f"Socket {s.get('id', '')} connections: pending {pending} dropped {dropped}"
            )
        refused = st.get("last-refusal")
        if refused:
            lines.append(f"Socket {s.get('id', '')} last refused: {refused}")
    for i in m["interfaces"]:
        st = i.get("state", {})
        lines += ["", *_block(i)]
        lines += [
            f"    Configured ring size: {1 << int(i.get('ring-size', DEFAULT_RING_LOG2))}",
            f"    Configured buffer size: {i.get('buffer-size', DEFAULT_BUFFER_SIZE)}",
            f"    Connection state: {st.get('connection-state', '')}",
            f"    Remote name: {st.get('remote-name', '')}",
            f"    Remote interface: {st.get('remote-interface-name', '')}",
            f"    Local disconnect reason: {st.get('local-disconnect-reason', '')}",
            f"    Remote disconnect reason: {st.get('remote-disconnect-reason', '')}",
            f"    Queues: rx {st.get('rx-queues', '')} tx {st.get('tx-queues', '')}"
            f"  Regions: {st.get('regions', '')}",
            f"    Ring overruns: {st.get('counters', {}).get('ring-overruns', '0')}",
        ]
        for q in st.get("queues", []):
            lines.append(
                f"      {q.get('direction', '')} queue {q.get('id', '')}:"
                f" ring {q.get('ring-size', '')}"
                f" head {q.get('head', '')} tail {q.get('tail', '')} packets {q.get('packets', '')}"
                f" bytes {q.get('bytes', '')} interrupts {q.get('interrupts', '')}"
            )
    return "\n".join(lines)


COUNTER_COLUMNS = (
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
    "rx-drops",
    "tx-drops",
    "bad-descriptors",
    "no-free-slots",
    "ring-overruns",
)


def counters(m: dict[str, list[dict[str, Any]]]) -> str:
    head = f"{'Interface':<20}" + "".join(f"{c:>16}" for c in COUNTER_COLUMNS)
    lines = [head, "-" * len(head)]
    for i in m["interfaces"]:
        c = i.get("state", {}).get("counters", {})
        name = f"memif{i['socket-id']}/{i['id']}"
        lines.append(f"{name:<20}" + "".join(f"{c.get(k, '0'):>16}" for k in COUNTER_COLUMNS))
    return "\n".join(lines)
