"""Typed view of the memif configuration, read from an lxml config tree.

Parsing checks each leaf of yang/memif-agent.yang (type, range, pattern,
mandatory, when) with an exact error-path, because libyang 2.1 reports these
errors without a data path. libyang still validates the whole document after
this, so the YANG model stays the authority; this module only makes its
errors readable and gives the agent Python objects to work with.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.yangdata.params import U32_MAX, parse_uint
from agent.yangdata.schema import MEMIF_NS

Q = f"{{{MEMIF_NS}}}"
SOCKET_ID_MAX = 4294967294
_MAC = re.compile(r"[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}")
_SECRET = re.compile(r"[!-~]{1,23}")
_IFNAME = re.compile(r"memif([0-9]+)/([0-9]+)")

SOCKET_LEAVES = ("id", "filename")
INTERFACE_LEAVES = (
    "socket-id",
    "id",
    "enabled",
    "role",
    "mode",
    "mac-address",
    "ring-size",
    "buffer-size",
    "rx-queues",
    "tx-queues",
    "secret",
    "xconnect",
)


def socket_path(sid: int, leaf: str | None = None) -> str:
    p = f"/memif:memif/memif:socket[memif:id='{sid}']"
    return f"{p}/memif:{leaf}" if leaf else p


def interface_path(sid: int | str, iid: int | str, leaf: str | None = None) -> str:
    p = f"/memif:memif/memif:interface[memif:socket-id='{sid}'][memif:id='{iid}']"
    return f"{p}/memif:{leaf}" if leaf else p


def interface_name(sid: int, iid: int) -> str:
    return f"memif{sid}/{iid}"


@dataclass(frozen=True)
class Interface:
    socket_id: int
    id: int
    enabled: bool = False
    role: str = "server"
    mode: str = "ethernet"
    mac_address: str | None = None
    ring_size: int = 10
    buffer_size: int = 2048
    rx_queues: int = 1
    tx_queues: int = 1
    secret: str | None = None
    xconnect: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.socket_id, self.id)

    @property
    def name(self) -> str:
        return interface_name(self.socket_id, self.id)


@dataclass
class MemifConfig:
    sockets: dict[int, str] = field(default_factory=dict)
    interfaces: dict[tuple[int, int], Interface] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: etree._Element | None) -> MemifConfig:
        """Read <memif> from a <config>/<data> wrapper (or the <memif> element itself).

        Raises RpcErrors listing every malformed leaf, each with its path.
        """
        cfg = cls()
        if config is None:
            return cfg
        memif = config if config.tag == Q + "memif" else config.find(Q + "memif")
        if memif is None:
            return cfg
        return cls.from_entries(memif)

    @classmethod
    def from_entries(cls, entries: Iterable[etree._Element]) -> MemifConfig:
        """Read the children of a <memif> element, wherever they are (an edit's
        touched entries need no copy into a <memif> of their own first).

        Raises RpcErrors listing every malformed leaf, each with its path.
        """
        cfg = cls()
        errors: list[RpcError] = []
        for child in entries:
            if not isinstance(child.tag, str):
                continue
            if child.tag == Q + "socket":
                _read_socket(child, cfg, errors)
            elif child.tag == Q + "interface":
                _read_interface(child, cfg, errors)
            else:
                errors.append(_unknown(child, "/memif:memif"))
        if errors:
            raise RpcErrors(errors)
        return cfg


def _unknown(el: etree._Element, parent_path: str) -> RpcError:
    name = etree.QName(el).localname
    return RpcError(
        "unknown-element",
        f"unknown element '{name}' in {parent_path}",
        path=parent_path,
        info=[("bad-element", name)],
    )


def _leaves(
    el: etree._Element, allowed: tuple[str, ...], path: str, errors: list[RpcError]
) -> dict[str, str]:
    out: dict[str, str] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        qn = etree.QName(child)
        if qn.namespace != MEMIF_NS or qn.localname not in allowed:
            if qn.namespace == MEMIF_NS and qn.localname == "state":
                errors.append(
                    RpcError(
                        "invalid-value",
                        "state data is read-only and cannot be configured",
                        path=f"{path}/memif:state",
                    )
                )
            else:
                errors.append(_unknown(child, path))
            continue
        # Raw text: libyang allows surrounding space in numbers only.
        out[qn.localname] = child.text or ""
    return out


def _key(
    leaves: dict[str, str], name: str, hi: int, where: str, errors: list[RpcError]
) -> int | None:
    if name not in leaves:
        errors.append(
            RpcError(
                "missing-element",
                f"{where}: the key '{name}' is missing",
                type="protocol",
                path=f"/memif:memif/memif:{where}",
                info=[("bad-element", name)],
            )
        )
        return None
    v = parse_uint(leaves[name], 0, hi)
    if v is None:
        errors.append(
            RpcError(
                "invalid-value",
                f"{where} {name} '{leaves[name]}' must be an integer from 0 to {hi}",
                path=f"/memif:memif/memif:{where}/memif:{name}",
            )
        )
    return v


def _read_socket(el: etree._Element, cfg: MemifConfig, errors: list[RpcError]) -> None:
    n = len(errors)
    leaves = _leaves(el, SOCKET_LEAVES, "/memif:memif/memif:socket", errors)
    sid = _key(leaves, "id", SOCKET_ID_MAX, "socket", errors)
    if sid is None:
        return
    path = socket_path(sid)
    fname = leaves.get("filename")
    if fname is None:
        errors.append(
            RpcError(
                "data-missing",
                f"socket {sid} needs a filename",
                path=socket_path(sid, "filename"),
                app_tag="missing-element",
            )
        )
    elif not fname.startswith("/") or not 2 <= len(fname) <= 107:
        errors.append(
            RpcError(
                "invalid-value",
                f"socket {sid} filename '{fname}' must be an absolute path of 2 to 107 characters",
                path=socket_path(sid, "filename"),
            )
        )
    if sid in cfg.sockets:
        errors.append(RpcError("invalid-value", f"socket {sid} is listed twice", path=path))
    if len(errors) == n:
        cfg.sockets[sid] = fname or ""


_ENUMS = {
    "role": ("server", "client"),
    "mode": ("ethernet", "ip", "punt-inject"),
    "enabled": ("true", "false"),
}


# Entry signature -> parsed Interface. Datastore trees are deep-copied on every
# edit, so element identity cannot be the key; an entry's (tag, text) pairs can,
# and make re-reading an unchanged 1000-entry configuration a dict lookup each.
_MEMO: dict[bytes, Interface] = {}
_MEMO_MAX = 200_000


def _signature(el: etree._Element) -> bytes:
    return etree.tostring(el)  # C speed; equal bytes mean equal leaves


def _read_interface(el: etree._Element, cfg: MemifConfig, errors: list[RpcError]) -> None:
    sig = _signature(el)
    hit = _MEMO.get(sig)
    if hit is not None:
        if hit.key in cfg.interfaces:
            errors.append(
                RpcError(
                    "invalid-value",
                    f"{hit.name} is listed twice",
                    path=interface_path(hit.socket_id, hit.id),
                )
            )
        else:
            cfg.interfaces[hit.key] = hit
        return
    n = len(errors)
    leaves = _leaves(el, INTERFACE_LEAVES, "/memif:memif/memif:interface", errors)
    sid = _key(leaves, "socket-id", SOCKET_ID_MAX, "interface", errors)
    iid = _key(leaves, "id", U32_MAX, "interface", errors)
    if sid is None or iid is None:
        return
    name = interface_name(sid, iid)

    def bad(leaf: str, message: str, tag: str = "invalid-value") -> None:
        info = [("bad-element", leaf)] if tag == "unknown-element" else []
        errors.append(
            RpcError(tag, f"{name}: {message}", path=interface_path(sid, iid, leaf), info=info)
        )

    def when_false(leaf: str, message: str) -> None:
        # RFC 7950 §8.3.1: a node whose "when" is false is not part of the
        # schema there: unknown-element, not invalid-value.
        bad(leaf, message, "unknown-element")

    vals: dict[str, object] = {}
    for leaf, choices in _ENUMS.items():
        if leaf in leaves:
            if leaves[leaf] not in choices:
                bad(leaf, f"{leaf} '{leaves[leaf]}' must be one of {', '.join(choices)}")
            else:
                vals[leaf] = leaves[leaf] == "true" if leaf == "enabled" else leaves[leaf]
    for leaf, lo, hi in (
        ("ring-size", 8, 32),
        ("buffer-size", 64, 65535),
        ("rx-queues", 1, 255),
        ("tx-queues", 1, 255),
    ):
        if leaf in leaves:
            v = parse_uint(leaves[leaf], lo, hi)
            if v is None:
                bad(leaf, f"{leaf} '{leaves[leaf]}' must be an integer from {lo} to {hi}")
            else:
                vals[leaf.replace("-", "_")] = v
    role = vals.get("role", "server")
    mode = vals.get("mode", "ethernet")
    for leaf in ("rx-queues", "tx-queues"):
        if leaf in leaves and role != "client":
            when_false(
                leaf, f"{leaf} can only be set with role client (the client chooses queue counts)"
            )
    if "mac-address" in leaves:
        mac = leaves["mac-address"]
        if not _MAC.fullmatch(mac):
            bad("mac-address", f"mac-address '{mac}' must look like 02:fe:00:00:00:01")
        elif mode != "ethernet":
            when_false("mac-address", "mac-address can only be set in ethernet mode")
        else:
            vals["mac_address"] = mac.lower()
    if "secret" in leaves:
        if not _SECRET.fullmatch(leaves["secret"]):
            bad("secret", "secret must be 1 to 23 printable ASCII characters without spaces")
        else:
            vals["secret"] = leaves["secret"]
    if "xconnect" in leaves:
        if not _IFNAME.fullmatch(leaves["xconnect"]):
            bad(
                "xconnect",
                f"xconnect '{leaves['xconnect']}' must name an interface as memif<socket>/<id>",
            )
        else:
            vals["xconnect"] = leaves["xconnect"]
    if (sid, iid) in cfg.interfaces:
        errors.append(
            RpcError("invalid-value", f"{name} is listed twice", path=interface_path(sid, iid))
        )
    if len(errors) == n:
        parsed = Interface(socket_id=sid, id=iid, **vals)  # type: ignore[arg-type]
        cfg.interfaces[(sid, iid)] = parsed
        if len(_MEMO) >= _MEMO_MAX:
            _MEMO.clear()
        _MEMO[sig] = parsed
