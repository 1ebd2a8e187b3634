"""Feature module joining commits to the dataplane (issue 5).

register() creates the Dataplane (unless --no-dataplane), adds socket 0 at its
--socket0 path, sets server.applier, adds the <get> state providers and turns
dataplane link events into link-state-change notifications.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from lxml import etree

from agent.apply_txn import Transaction
from agent.mac import MacStore
from agent.memif_config import MemifConfig
from agent.params import parse_uint
from agent.schema import MEMIF_NS
from agent.socket_record import SocketRecord

log = logging.getLogger(__name__)


class Applier:
    """server.applier: apply(old, new) moves the dataplane from what it runs to `new`."""

    def __init__(
        self,
        dp: Any,
        macs: MacStore,
        socket_files: dict | None = None,
        sockets: SocketRecord | None = None,
    ) -> None:
        self.dp = dp
        self.macs = macs
        self.sockets = sockets
        self.txn = Transaction(dp, macs, socket_files)
        # What the dataplane runs now; the source of each diff, so a failed or
        # partial earlier apply cannot leave the agent believing otherwise.
        self.applied = MemifConfig()

    async def apply(self, target: MemifConfig) -> None:
        # What can fail on a full or read-only disk is saved before the dataplane
        # changes: a failure there leaves everything as it was.
        self.macs.reserve(target)
        if self.sockets is not None:
            self.sockets.reserve(target)
        self.txn.run(self.applied, target)
        self.applied = target
        if self.sockets is not None:
            self.sockets.settle(target)


def register(server: Any) -> None:
    opts = server.options
    if getattr(opts, "no_dataplane", False):
        return
    try:
        from dataplane import Dataplane
    except ImportError as e:
        log.error("memif dataplane not available (%s): serving NETCONF without it", e)
        return
    dp = Dataplane(app_name="memif-agent")
    socket0 = getattr(opts, "socket0", None) or "/run/vpp/memif.sock"
    files = socket_file_options(opts)
    dp.add_socket(0, socket0, **files)
    server.dataplane = dp
    state = Path(opts.state_dir)
    record = SocketRecord(state / "sockets.json", always=(socket0,))
    server.applier = Applier(dp, MacStore(state / "macs.json"), files, record)

    from agent.state_interfaces import IF_NS, interfaces_state
    from agent.state_memif import memif_state

    server.add_state_provider(
        lambda: [memif_state(dp.state(), socket0)], tags=(f"{{{MEMIF_NS}}}memif",)
    )
    server.add_state_provider(
        lambda: [interfaces_state(dp.state())], tags=(f"{{{IF_NS}}}interfaces",)
    )

    async def watch_events() -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(dp.fileno(), lambda: _forward_events(server, dp))

    async def close() -> None:
        try:
            asyncio.get_running_loop().remove_reader(dp.fileno())
        except Exception:
            pass
        dp.close()

    server.add_startup_hook(watch_events)
    server.add_shutdown_hook(close)


def socket_file_options(opts: Any) -> dict[str, int]:
    """--socket-mode/-owner/-group as Dataplane.add_socket keywords (names resolved)."""
    import grp
    import pwd

    out: dict[str, int] = {}
    if getattr(opts, "socket_mode", None) is not None:
        out["perm"] = opts.socket_mode
    owner = getattr(opts, "socket_owner", None)
    if owner is not None:
        uid = parse_uint(str(owner), 0, 4294967294)
        out["owner"] = uid if uid is not None else pwd.getpwnam(owner).pw_uid
    group = getattr(opts, "socket_group", None)
    if group is not None:
        gid = parse_uint(str(group), 0, 4294967294)
        out["group"] = gid if gid is not None else grp.getgrnam(group).gr_gid
    return out


def _forward_events(server: Any, dp: Any) -> None:
    for ev in dp.events():
        if ev.get("type") != "link":
            continue
        n = etree.Element(f"{{{MEMIF_NS}}}link-state-change", nsmap={None: MEMIF_NS})
        for leaf, value in (
            ("name", ev.get("name") or f"memif{ev['socket_id']}/{ev['id']}"),
            ("socket-id", ev["socket_id"]),
            ("id", ev["id"]),
            ("link-status", "up" if ev.get("up") else "down"),
            ("reason", ev.get("reason") or ""),
        ):
            etree.SubElement(n, f"{{{MEMIF_NS}}}{leaf}").text = str(value)
        log.info(
            "%s link %s %s",
            ev.get("name"),
            "up" if ev.get("up") else "down",
            ev.get("reason") or "",
        )
        server.notify(n)
