"""The difference between two memif configurations as ordered dataplane steps.

Pure: no dataplane calls. Order: xconnects undone, interfaces removed, sockets
removed, sockets added, interfaces added, admin state, xconnects made. Any
memif parameter change is a remove + add (as in VPP: the peer must renegotiate).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from agent.memif.config import Interface, MemifConfig

# Interface fields that do not need a new memif connection when they change.
LIVE_FIELDS = ("enabled", "xconnect")
Key = tuple[int, int]


@dataclass(frozen=True)
class Step:
    kind: str  # add_socket remove_socket add_interface remove_interface set_enabled set_xconnect
    socket_id: int
    if_id: int | None = None
    filename: str | None = None
    interface: Interface | None = None
    enabled: bool | None = None
    peer: Key | None = None

    @property
    def name(self) -> str:
        if self.if_id is None:
            return f"socket {self.socket_id}"
        return f"memif{self.socket_id}/{self.if_id}"


def params(itf: Interface) -> tuple:
    """What a memif connection is negotiated from."""
    return tuple(getattr(itf, f.name) for f in fields(itf) if f.name not in LIVE_FIELDS)


def xconnect_key(itf: Interface | None) -> Key | None:
    if itf is None or itf.xconnect is None:
        return None
    sid, iid = itf.xconnect[len("memif") :].split("/")
    return (int(sid), int(iid))


def plan(old: MemifConfig, new: MemifConfig) -> list[Step]:
    steps: list[Step] = []
    recreate = {
        k
        for k, itf in new.interfaces.items()
        if k in old.interfaces and params(old.interfaces[k]) != params(itf)
    }
    removed = set(old.interfaces) - set(new.interfaces)
    moved_sockets = {
        sid
        for sid, fname in old.sockets.items()
        if sid != 0 and (sid not in new.sockets or new.sockets[sid] != fname)
    }

    # xconnects: undo every pair that changes or whose ends go away (both ways,
    # as the dataplane patches a pair).
    def pair(k: Key, itf: Interface | None) -> frozenset | None:
        x = xconnect_key(itf)
        return frozenset((k, x)) if x is not None else None

    old_pairs = {p for k, i in old.interfaces.items() if (p := pair(k, i))}
    new_pairs = {p for k, i in new.interfaces.items() if (p := pair(k, i))}
    touched = removed | recreate
    drop = {p for p in old_pairs if p not in new_pairs or p & touched}
    make = {p for p in new_pairs if p not in old_pairs or p & touched}
    for p in sorted(drop, key=sorted):
        a = min(p)
        steps.append(Step("set_xconnect", a[0], a[1], peer=None))

    for k in sorted(removed | recreate):
        steps.append(Step("remove_interface", k[0], k[1], interface=old.interfaces[k]))
    for sid in sorted(moved_sockets):
        steps.append(Step("remove_socket", sid, filename=old.sockets[sid]))
    for sid, fname in sorted(new.sockets.items()):
        if sid != 0 and (sid not in old.sockets or sid in moved_sockets):
            steps.append(Step("add_socket", sid, filename=fname))
    for k, itf in sorted(new.interfaces.items()):
        if k not in old.interfaces or k in recreate:
            steps.append(Step("add_interface", k[0], k[1], interface=itf))
        elif old.interfaces[k].enabled != itf.enabled:
            steps.append(Step("set_enabled", k[0], k[1], enabled=itf.enabled))
    for p in sorted(make, key=sorted):
        a, b = sorted(p)
        steps.append(Step("set_xconnect", a[0], a[1], peer=b))
    return steps
