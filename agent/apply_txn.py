"""Runs plan steps against the dataplane as one transaction: on the first
failure every step already done is undone in reverse, and the commit gets an
<rpc-error> naming the interface and the reason.

`dp` has the Dataplane's control calls as coroutines (dataplane.remote's
RemoteDataplane): each step awaits its reply, so a commit never blocks the
event loop."""

from __future__ import annotations

import logging
from typing import Any

from agent.apply_plan import Step, plan, xconnect_key
from agent.errors import RpcError
from agent.mac import MacStore
from agent.memif_config import Interface, MemifConfig, interface_path, socket_path

log = logging.getLogger(__name__)


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
            self.macs.save()

    async def _run(self, old: MemifConfig, new: MemifConfig) -> None:
        done: list[Step] = []
        for step in plan(old, new):
            try:
                await self._do(step, old)
            except Exception as e:  # MemifError, OSError: all undo the same way
                log.warning("apply failed at %s (%s): undoing %d steps", step.name, e, len(done))
                for prev in reversed(done if not isinstance(e, self.gone) else ()):
                    try:
                        await self._undo(prev, old)
                    except self.gone:
                        break
                    except Exception:
                        log.exception("undo of %s failed", prev.name)
                path = (
                    socket_path(step.socket_id)
                    if step.if_id is None
                    else interface_path(step.socket_id, step.if_id)
                )
                raise RpcError(
                    "operation-failed", f"{step.name}: {e}", path=path, app_tag="apply-failed"
                ) from None
            done.append(step)

    # -- steps ---------------------------------------------------------------------------------

    async def _add_interface(self, itf: Interface) -> None:
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
        await self.dp.add_interface(itf.socket_id, itf.id, **kw)

    async def _do(self, s: Step, old: MemifConfig) -> None:
        dp = self.dp
        if s.kind == "add_socket":
            await dp.add_socket(s.socket_id, s.filename, **self.socket_files)
        elif s.kind == "remove_socket":
            await dp.remove_socket(s.socket_id)
        elif s.kind == "add_interface":
            assert s.interface is not None
            await self._add_interface(s.interface)
        elif s.kind == "remove_interface":
            await dp.remove_interface(s.socket_id, s.if_id)
        elif s.kind == "set_enabled":
            await dp.set_enabled(s.socket_id, s.if_id, bool(s.enabled))
        elif s.kind == "set_xconnect":
            await dp.set_xconnect((s.socket_id, s.if_id), s.peer)
        else:
            raise ValueError(s.kind)

    async def _undo(self, s: Step, old: MemifConfig) -> None:
        dp = self.dp
        if s.kind == "add_socket":
            await dp.remove_socket(s.socket_id)
        elif s.kind == "remove_socket":
            await dp.add_socket(s.socket_id, s.filename, **self.socket_files)
        elif s.kind == "add_interface":
            await dp.remove_interface(s.socket_id, s.if_id)
        elif s.kind == "remove_interface":
            assert s.interface is not None
            await self._add_interface(s.interface)
        elif s.kind == "set_enabled":
            await dp.set_enabled(
                s.socket_id, s.if_id, old.interfaces[(s.socket_id, s.if_id)].enabled
            )
        elif s.kind == "set_xconnect":
            await dp.set_xconnect((s.socket_id, s.if_id), _old_peer(old, (s.socket_id, s.if_id)))


def _old_peer(old: MemifConfig, key: tuple[int, int]) -> tuple[int, int] | None:
    """The interface `key` was patched to before, from either end of the pair."""
    mine = xconnect_key(old.interfaces.get(key))
    if mine is not None:
        return mine
    for k, itf in old.interfaces.items():
        if xconnect_key(itf) == key:
            return k
    return None
