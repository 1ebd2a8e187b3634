"""Runs plan steps against the dataplane as one transaction: on the first
failure every step already done is undone in reverse, and the commit gets an
<rpc-error> naming the interface and the reason.

`dp` is dataplane.remote's RemoteDataplane: the steps become its control
calls and go in batches (`await dp.batch(calls)`, a few round trips for a
thousand steps), so a commit never blocks the event loop."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from agent.errors import RpcError
from agent.memif.config import Interface, MemifConfig, interface_path, socket_path
from agent.memif.mac import MacStore
from agent.memif.plan import Step, plan, xconnect_key

log = logging.getLogger(__name__)

Call = tuple[str, list, dict]  # a dataplane control call: method, args, kwargs


class Transaction:
    def __init__(
        self,
        dp: Any,
        macs: MacStore,
        socket_files: dict | None = None,
        gone: tuple[type[BaseException], ...] = (),
    ) -> None:
        self.dp = dp
        self.macs = macs
        # Errors meaning the dataplane itself is gone: nothing left to undo in it.
        self.gone = gone
        # owner/group/perm for every socket file (agent options)
        self.socket_files = socket_files or {}

    async def run(self, old: MemifConfig, new: MemifConfig) -> None:
        try:
            await self._run(old, new)
        finally:
            # fsync off the event loop (see Applier.apply)
            await asyncio.to_thread(self.macs.save)

    async def _run(self, old: MemifConfig, new: MemifConfig) -> None:
        steps = plan(old, new)
        if not steps:
            return
        try:
            results = await self.dp.batch([self._do(s) for s in steps])
        except self.gone as e:
            # Lost mid-batch: which step it reached is unknown, and moot.
            raise RpcError("operation-failed", str(e), app_tag="apply-failed") from None
        if len(results) == len(steps) and results[-1] is None:
            return
        done, step, e = steps[: len(results) - 1], steps[len(results) - 1], results[-1]
        log.warning("apply failed at %s (%s): undoing %d steps", step.name, e, len(done))
        try:
            undone = await self.dp.batch(
                [self._undo(s, old) for s in reversed(done)], stop_on_error=False
            )
            for prev, err in zip(reversed(done), undone, strict=False):
                if err is not None:
                    log.error("undo of %s failed: %s", prev.name, err)
        except self.gone:
            pass  # nothing left to undo in a dataplane that is gone
        path = (
            socket_path(step.socket_id)
            if step.if_id is None
            else interface_path(step.socket_id, step.if_id)
        )
        raise RpcError(
            "operation-failed", f"{step.name}: {e}", path=path, app_tag="apply-failed"
        ) from None

    # -- steps as dataplane calls: (method, args, kwargs) ------------------------------------

    def _add_interface(self, itf: Interface) -> Call:
        mac = itf.mac_address
        if mac is None and itf.mode == "ethernet":
            mac = self.macs.get(itf.socket_id, itf.id)
        kw: dict[str, Any] = dict(
            role=itf.role,
            mode=itf.mode,
            ring_size_log2=itf.ring_size,
            buffer_size=itf.buffer_size,
            secret=itf.secret,
            mac=mac,
            enabled=itf.enabled,
        )
        if itf.role == "client":
            kw.update(rx_queues=itf.rx_queues, tx_queues=itf.tx_queues)
        return ("add_interface", [itf.socket_id, itf.id], kw)

    def _do(self, s: Step) -> Call:
        if s.kind == "add_socket":
            return ("add_socket", [s.socket_id, s.filename], self.socket_files)
        if s.kind == "remove_socket":
            return ("remove_socket", [s.socket_id], {})
        if s.kind == "add_interface":
            assert s.interface is not None
            return self._add_interface(s.interface)
        if s.kind == "remove_interface":
            return ("remove_interface", [s.socket_id, s.if_id], {})
        if s.kind == "set_enabled":
            return ("set_enabled", [s.socket_id, s.if_id, bool(s.enabled)], {})
        if s.kind == "set_xconnect":
            return ("set_xconnect", [_pair((s.socket_id, s.if_id)), _pair(s.peer)], {})
        raise ValueError(s.kind)

    def _undo(self, s: Step, old: MemifConfig) -> Call:
        key = (s.socket_id, s.if_id)
        if s.kind == "add_socket":
            return ("remove_socket", [s.socket_id], {})
        if s.kind == "remove_socket":
            return ("add_socket", [s.socket_id, s.filename], self.socket_files)
        if s.kind == "add_interface":
            return ("remove_interface", [s.socket_id, s.if_id], {})
        if s.kind == "remove_interface":
            assert s.interface is not None
            return self._add_interface(s.interface)
        if s.kind == "set_enabled":
            return ("set_enabled", [s.socket_id, s.if_id, old.interfaces[key].enabled], {})
        if s.kind == "set_xconnect":
            return ("set_xconnect", [_pair(key), _pair(_old_peer(old, key))], {})
        raise ValueError(s.kind)


def _pair(key: tuple[int, int | None] | None) -> list | None:
    return list(key) if key is not None else None


def _old_peer(old: MemifConfig, key: tuple[int, int]) -> tuple[int, int] | None:
    """The interface `key` was patched to before, from either end of the pair."""
    mine = xconnect_key(old.interfaces.get(key))
    if mine is not None:
        return mine
    for k, itf in old.interfaces.items():
        if xconnect_key(itf) == key:
            return k
    return None
