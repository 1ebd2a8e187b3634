"""Feature module joining commits to the dataplane (issue 5), which runs in
its own supervised process (dataplane.supervisor, issue 11).

register() sets up the Supervisor (unless --no-dataplane) and returns the applier,
adds the <get> state providers and turns dataplane link events into
link-state-change notifications. Each new dataplane process gets socket 0 at
its --socket0 path; a restarted one also gets running re-applied. While no
process runs, a commit fails with operation-failed and changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lxml import etree

from agent.errors import RpcError
from agent.memif.config import MemifConfig
from agent.memif.mac import MacStore
from agent.memif.socket_record import SocketRecord
from agent.memif.state import INTERFACE, SOCKET, dataplane_status_text
from agent.memif.txn import Transaction
from agent.yangdata.params import parse_uint
from agent.yangdata.schema import MEMIF_NS
from dataplane.state_blob import StateText

log = logging.getLogger(__name__)
Q = f"{{{MEMIF_NS}}}"


class Applier:
    """apply(target) moves the dataplane from what it runs to `target`."""

    def __init__(
        self,
        supervisor: Any,
        macs: MacStore,
        socket0: str,
        socket_files: dict | None = None,
        running: Callable[[], MemifConfig] | None = None,
        sockets: SocketRecord | None = None,
    ) -> None:
        from dataplane.remote import DataplaneLost
        from dataplane.supervisor import Unavailable

        self.supervisor = supervisor
        self.macs = macs
        self.socket0 = socket0
        self.socket_files = socket_files or {}
        self.running = running
        self.sockets = sockets
        self._gone = (DataplaneLost, Unavailable)
        # What the dataplane runs now; the source of each diff, so a failed or
        # partial earlier apply cannot leave the agent believing otherwise.
        self.applied = MemifConfig()
        # One transaction at a time: a commit and the re-apply after a restart
        # must not interleave their steps.
        self._lock = asyncio.Lock()

    async def apply(self, target: MemifConfig) -> None:
        async with self._lock:
            try:
                dp = await self.supervisor.available()
            except self._gone as e:
                raise RpcError(
                    "operation-failed", str(e), app_tag="dataplane-unavailable"
                ) from None
            # What can fail on a full or read-only disk is saved before the dataplane
            # changes: a failure there leaves everything as it was. The files are
            # fsynced in a worker thread: a slow disk must not stall other sessions
            # (the lock keeps anyone else off these objects meanwhile).
            await asyncio.to_thread(self.macs.reserve, target)
            if self.sockets is not None:
                await asyncio.to_thread(self.sockets.reserve, target)
            await self._run(dp, self.applied, target)
            self.applied = target
            if self.sockets is not None:
                await asyncio.to_thread(self.sockets.settle, target)

    async def setup(self, dp: Any, restarted: bool) -> None:
        """Prepares a new dataplane process (Supervisor's setup)."""
        await dp.add_socket(0, self.socket0, **self.socket_files)
        if not restarted or self.running is None:
            # The first process: start-up applies running (ops_datastore's
            # hook), and may be starting from inside apply(), which holds the lock.
            self.applied = MemifConfig()
            return
        async with self._lock:
            self.applied = MemifConfig()
            target = self.running()
            try:
                await self._run(dp, MemifConfig(), target)
            except RpcError as e:
                if dp.lost is not None:
                    raise
                log.error("running could not be re-applied after a restart: %s", e)
                return
            self.applied = target

    async def _run(self, dp: Any, old: MemifConfig, new: MemifConfig) -> None:
        await Transaction(dp, self.macs, self.socket_files, self._gone).run(old, new)


class Links:
    """Link-state-change notifications from dataplane events, and for the links
    a lost dataplane process took down and a restarted one brought back."""

    def __init__(self, notify: Callable[[etree._Element], None]) -> None:
        self.notify = notify
        self.up: dict[tuple[int, int], str] = {}  # key -> name, links up now
        self.restoring: set[tuple[int, int]] = set()

    def events(self, events: list[dict]) -> None:
        for ev in events:
            kind = ev.get("type")
            if kind == "log":
                # What the dataplane saw a peer do wrong (e.g. a ring overrun),
                # once per link; strings were made XML-safe by control_replies.
                log.warning("dataplane: %s: %s", ev.get("name", ""), ev.get("message", ""))
                continue
            if kind != "link":
                continue
            key = (ev["socket_id"], ev["id"])
            name = ev.get("name") or f"memif{key[0]}/{key[1]}"
            reason = ev.get("reason") or ""
            if ev["up"]:
                self.up[key] = name
                if key in self.restoring:
                    self.restoring.discard(key)
                    reason = "dataplane restarted"
            else:
                self.up.pop(key, None)
            self.send(key, name, bool(ev["up"]), reason)

    def lost(self, why: str) -> None:
        self.restoring = set(self.up)
        for key, name in sorted(self.up.items()):
            self.send(key, name, False, f"dataplane lost: {why}")
        self.up.clear()

    def send(self, key: tuple[int, int], name: str, up: bool, reason: str) -> None:
        n = etree.Element(Q + "link-state-change", nsmap={None: MEMIF_NS})
        for leaf, value in (
            ("name", name),
            ("socket-id", key[0]),
            ("id", key[1]),
            ("link-status", "up" if up else "down"),
            ("reason", reason),
        ):
            etree.SubElement(n, Q + leaf).text = str(value)
        log.info("%s link %s %s", name, "up" if up else "down", reason)
        self.notify(n)


def register(server: Any, running: Callable[[], MemifConfig] | None) -> Applier | None:
    """The applier, with the dataplane's supervisor and state providers on
    `server`; None without a dataplane (--no-dataplane, or it cannot load).
    `running`: the typed running configuration, re-applied after a restart."""
    opts = server.options
    if getattr(opts, "no_dataplane", False):
        return None
    try:
        from dataplane.supervisor import Supervisor
    except ImportError as e:
        log.error("memif dataplane not available (%s): serving NETCONF without it", e)
        return None
    socket0 = getattr(opts, "socket0", None) or "/run/vpp/memif.sock"
    files = socket_file_options(opts)
    state = Path(opts.state_dir)
    record = SocketRecord(state / "sockets.json", always=(socket0,))
    applier = Applier(None, MacStore(state / "macs.json"), socket0, files, running, record)
    links = Links(server.notify)
    sup = Supervisor(
        setup=applier.setup,
        on_events=links.events,
        on_lost=links.lost,
        heartbeat=getattr(opts, "dataplane_heartbeat", 0.2),
        timeout=getattr(opts, "dataplane_timeout", 1.0),
        restart_delay=getattr(opts, "dataplane_restart_delay", 0.1),
    )
    applier.supervisor = sup
    server.dataplane = sup

    from agent.memif.interfaces_state import IF_NS, interfaces_state
    from agent.memif.state import MemifStateText
    from agent.yangdata.splice import TopSplice

    reader = StateReader(sup)

    async def memif_text() -> MemifStateText:
        st = await reader.read()
        return MemifStateText(st, socket0, dataplane_state_text(sup, reader.note))

    # Two providers, one read: the reader keeps a read for the rest of the loop
    # step, so a <get> wanting both trees shows one snapshot of the dataplane, and
    # one wanting <memif> does not decode values for ietf-interfaces.
    async def memif_tree() -> list[etree._Element]:
        return [(await memif_text()).tree()]

    async def interfaces_tree() -> list[etree._Element]:
        st = await reader.read()
        return [interfaces_state(st.values() if st is not None else {})]

    server.add_state_provider(memif_tree, tags=(f"{{{MEMIF_NS}}}memif",))
    server.add_state_provider(interfaces_tree, tags=(f"{{{IF_NS}}}interfaces",))
    server.add_state_splice(TopSplice(f"{{{MEMIF_NS}}}memif", memif_text))
    server.add_startup_hook(sup.start)
    server.add_shutdown_hook(sup.close)
    return applier


class StateReader:
    """Dataplane.state() for <get>, bounded in time: a <get> must answer within
    a second even while the dataplane hangs and the heartbeat has yet to notice."""

    def __init__(self, sup: Any, timeout: float = 0.5) -> None:
        self.sup = sup
        self.timeout = timeout
        self.note = ""  # why the last read has no state, when the process runs
        self._silent_until = 0.0
        self._fresh: StateText | None = None

    async def read(self) -> StateText | None:
        """The state, or None while no process runs or it does not answer."""
        if self._fresh is not None:
            # Read in this same step of the event loop (by another <get>):
            # nothing can have changed since.
            return self._fresh
        sup = self.sup
        self.note = ""
        if sup.status != "running" or sup.dp is None:
            return None
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < self._silent_until:
            # It just left a read unanswered: do not make this <get> wait too.
            self.note = "not answering"
            return None
        try:
            st = await sup.dp.state_blob(
                timeout=min(self.timeout, sup.timeout), tags=(SOCKET, INTERFACE)
            )
        except TimeoutError:
            self._silent_until = now + sup.timeout
            self.note = f"no state within {min(self.timeout, sup.timeout):g} s"
            return None
        except Exception as e:  # lost mid-call: the supervisor has it in hand
            log.warning("dataplane state: %s", e)
            self.note = "" if sup.status != "running" else str(e)
            return None
        self._fresh = st
        loop.call_soon(self._forget)
        return st

    def _forget(self) -> None:
        self._fresh = None


def dataplane_state_text(sup: Any, note: str = "") -> str:
    status = "running" if sup.status == "running" and not note else "unavailable"
    reason = note or (sup.reason if status != "running" else "")
    pid = sup.pid if sup.pid is not None and sup.status == "running" else None
    return dataplane_status_text(status, reason or "", pid, sup.restarts)


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
