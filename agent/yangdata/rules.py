"""Cross-entry rules of the memif model (design §3), each checked in O(n).

libyang evaluates `must` predicates across list entries by scanning, which
took 88 s for 10k interfaces; these rules use dictionaries instead. The YANG
module's description lists them so clients know they exist.
"""

from __future__ import annotations

from agent.errors import RpcError
from agent.memif.config import (
    _IFNAME,
    Interface,
    MemifConfig,
    interface_path,
    socket_path,
)
from agent.yangdata.params import U32_MAX, parse_uint

DEFAULT_SOCKET0 = "/run/vpp/memif.sock"


def check(
    new: MemifConfig, old: MemifConfig | None = None, socket0: str = DEFAULT_SOCKET0
) -> list[RpcError]:
    """Every rule violation in `new`; `old` (the running config) words in-use errors."""
    errors: list[RpcError] = []
    _check_sockets(new, socket0, errors)
    _check_interfaces(new, old, errors)
    _check_xconnects(new, errors)
    if old is not None:
        _check_changes(new, old, errors)
    return errors


def _check_sockets(cfg: MemifConfig, socket0: str, errors: list[RpcError]) -> None:
    owner: dict[str, int] = {socket0: 0}
    for sid, fname in cfg.sockets.items():
        if sid == 0:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"socket 0 is built in (filename {socket0}) and cannot be configured, "
                    "changed or deleted",
                    path=socket_path(0),
                    app_tag="builtin-socket",
                )
            )
            continue
        other = owner.setdefault(fname, sid)
        if other != sid:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"socket {sid} filename {fname} is already used by socket {other}",
                    path=socket_path(sid, "filename"),
                    app_tag="data-not-unique",
                )
            )


def _check_interfaces(cfg: MemifConfig, old: MemifConfig | None, errors: list[RpcError]) -> None:
    role_of: dict[int, tuple[str, Interface]] = {}
    for (sid, iid), itf in cfg.interfaces.items():
        if sid != 0 and sid not in cfg.sockets:
            if old is not None and sid in old.sockets:
                errors.append(
                    RpcError(
                        "in-use",
                        f"socket {sid} is in use by {itf.name} and cannot be deleted; "
                        "delete its interfaces first",
                        path=socket_path(sid),
                    )
                )
            else:
                errors.append(
                    RpcError(
                        "data-missing",
                        f"{itf.name}: socket {sid} does not exist; create it with a filename first",
                        path=interface_path(sid, iid, "socket-id"),
                        app_tag="instance-required",
                    )
                )
        first = role_of.setdefault(sid, (itf.role, itf))  # names only for a message
        if first[0] != itf.role:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"{itf.name}: role {itf.role} conflicts with {first[1].name} ({first[0]}); all "
                    f"interfaces of socket {sid} must have the same role",
                    path=interface_path(sid, iid, "role"),
                    app_tag="socket-role-conflict",
                )
            )
        if itf.mode == "punt-inject":
            errors.append(
                RpcError(
                    "operation-not-supported",
                    f"{itf.name}: mode punt-inject is not implemented",
                    path=interface_path(sid, iid, "mode"),
                )
            )


def _check_xconnects(cfg: MemifConfig, errors: list[RpcError]) -> None:
    target_of: dict[tuple[int, int], tuple[int, int]] = {}
    for key, itf in cfg.interfaces.items():
        if itf.xconnect is None:
            continue
        path = interface_path(key[0], key[1], "xconnect")
        m = _IFNAME.fullmatch(itf.xconnect)
        assert m is not None  # the typed parse checked the pattern
        # Beyond uint32 no interface can exist: None keys find no target below.
        tkey = (parse_uint(m.group(1), 0, U32_MAX), parse_uint(m.group(2), 0, U32_MAX))
        if tkey == key:
            errors.append(
                RpcError("invalid-value", f"{itf.name}: cannot xconnect to itself", path=path)
            )
            continue
        target = cfg.interfaces.get(tkey)
        if target is None:
            errors.append(
                RpcError(
                    "data-missing",
                    f"{itf.name}: xconnect target {itf.xconnect} does not exist",
                    path=path,
                    app_tag="instance-required",
                )
            )
            continue
        if target.xconnect is not None and target.xconnect != itf.name:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"{itf.name}: {itf.xconnect} is xconnected to {target.xconnect}, not to "
                    f"{itf.name}",
                    path=path,
                )
            )
        prev = target_of.setdefault(tkey, key)
        peer_back = target.xconnect == itf.name
        if prev != key and not peer_back:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"{itf.name}: {itf.xconnect} is already the xconnect target of "
                    f"memif{prev[0]}/{prev[1]}",
                    path=path,
                )
            )
        # An interface patched to X may not also be the target of some third one.
        src = target_of.get(key)
        if src is not None and src != tkey:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"{itf.name} is the xconnect target of memif{src[0]}/{src[1]} and cannot "
                    f"also xconnect to {itf.xconnect}",
                    path=path,
                )
            )


def _check_changes(new: MemifConfig, old: MemifConfig, errors: list[RpcError]) -> None:
    in_use = {sid for (sid, _iid) in new.interfaces} & {sid for (sid, _iid) in old.interfaces}
    for sid, fname in new.sockets.items():
        before = old.sockets.get(sid)
        if before is not None and before != fname and sid in in_use:
            errors.append(
                RpcError(
                    "in-use",
                    f"socket {sid} is in use by interfaces; its filename cannot change from "
                    f"{before} to {fname} (delete its interfaces first)",
                    path=socket_path(sid, "filename"),
                )
            )
