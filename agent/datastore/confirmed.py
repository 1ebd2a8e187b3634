"""The confirmed-commit state machine (RFC 6241 §8.3-8.4), owned by one object.

States: NONE (no confirmed commit pending), PENDING (tied to the session that
started it: it rolls back when that session ends), PERSISTENT (started with
<persist>: any session that gives the persist-id may confirm, extend or cancel,
and it outlives its session). Every transition is a method here; the datastores
call them around their own work (validation, the dataplane, running's file),
which this module knows nothing of.

The configuration to roll back to is on disk while a commit is pending, so an
agent that dies before the confirming commit comes back on the old one.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from agent.datastore import persist
from agent.errors import RpcError


class ConfirmState(enum.Enum):
    NONE = "none"
    PENDING = "pending"
    PERSISTENT = "persistent"


@dataclass
class PendingConfirm:
    backup: etree._Element
    session_id: int
    persist: str | None
    timer: asyncio.TimerHandle | None = None


class ConfirmedCommit:
    """`rollback_file`: where the configuration to go back to is kept while a
    commit is pending; `on_expire()` runs on the event loop when the confirm
    timeout passes (the datastores roll back)."""

    def __init__(
        self,
        rollback_file: Path,
        serialize: Callable[[etree._Element], bytes],
        on_expire: Callable[[], None],
    ) -> None:
        self.rollback_file = rollback_file
        self._serialize = serialize
        self._on_expire = on_expire
        self.pending: PendingConfirm | None = None

    @property
    def state(self) -> ConfirmState:
        c = self.pending
        if c is None:
            return ConfirmState.NONE
        return ConfirmState.PENDING if c.persist is None else ConfirmState.PERSISTENT

    # -- questions the datastores ask ------------------------------------------------------

    def lock_holder(self, session_id: int) -> int | None:
        """The other session whose pending confirmed commit refuses a lock on running."""
        c = self.pending
        if c is not None and c.session_id != session_id:
            return c.session_id
        return None

    def refuse_other(self, session_id: int, what: str) -> None:
        """in-use while another session's (non-persistent) confirmed commit is pending."""
        c = self.pending
        if c is not None and c.persist is None and c.session_id != session_id:
            raise RpcError(
                "in-use",
                f"cannot {what}: session {c.session_id} has a confirmed commit pending",
                type="protocol",
                info=[("session-id", str(c.session_id))],
            )

    def check_commit(self, session_id: int, persist_id: str | None) -> None:
        """May this <commit> (with this persist-id) go on: confirm, extend or start?"""
        c = self.pending
        if c is not None:
            if c.persist is not None:
                if persist_id != c.persist:
                    raise RpcError(
                        "invalid-value",
                        "a persistent confirmed commit is pending: give its persist-id",
                        type="protocol",
                        path="/nc:rpc/nc:commit/nc:persist-id",
                    )
            elif c.session_id != session_id:
                self.refuse_other(session_id, "commit")
        elif persist_id is not None:
            raise RpcError(
                "invalid-value",
                "no confirmed commit with this persist-id is pending",
                type="protocol",
                path="/nc:rpc/nc:commit/nc:persist-id",
            )

    def check_cancel(self, session_id: int, persist_id: str | None) -> PendingConfirm:
        """The pending commit <cancel-commit> from this session would undo."""
        c = self.pending
        if c is None:
            raise RpcError("invalid-value", "no confirmed commit is pending", type="protocol")
        if c.persist is not None:
            if persist_id != c.persist:
                raise RpcError(
                    "invalid-value",
                    "the persist-id does not match the pending confirmed commit",
                    type="protocol",
                    path="/nc:rpc/nc:cancel-commit/nc:persist-id",
                )
        elif c.session_id != session_id:
            raise RpcError(
                "invalid-value",
                f"the pending confirmed commit belongs to session {c.session_id}",
                type="protocol",
            )
        return c

    def backup_for(self, running: etree._Element) -> etree._Element:
        """What a rollback would restore if this commit were confirmed-pending."""
        return self.pending.backup if self.pending is not None else running

    def ends_with(self, session_id: int) -> bool:
        """Does this session's end roll back the pending commit (non-persistent, its own)?"""
        c = self.pending
        return c is not None and c.persist is None and c.session_id == session_id

    # -- transitions ------------------------------------------------------------------------

    def save_backup(self, backup: etree._Element) -> None:
        """Before NONE -> PENDING/PERSISTENT changes running: a running that changed
        with no way back (disk full after the swap) would outlive a restart unconfirmed."""
        try:
            persist.atomic_write(self.rollback_file, self._serialize(backup))
        except OSError as e:
            raise RpcError(
                "operation-failed",
                f"cannot save the confirmed-commit rollback: {e.strerror or e}",
            ) from None

    def drop_backup(self) -> None:
        persist.atomic_remove(self.rollback_file)

    def committed(
        self,
        backup: etree._Element,
        session_id: int,
        confirmed: bool,
        timeout: int,
        persist_token: str | None,
    ) -> str | None:
        """After running changed by a <commit>: start, extend or complete. Returns
        the RFC 6470 confirm event ("start", "extend", "complete") or None."""
        c = self.pending
        if c is not None and c.timer is not None:
            c.timer.cancel()
        if confirmed:
            self.pending = PendingConfirm(backup, session_id, persist_token)
            loop = asyncio.get_running_loop()
            self.pending.timer = loop.call_later(timeout, self._on_expire)
            return "start" if c is None else "extend"
        self.pending = None
        # "complete": the caller drops the backup file (a disk wait, off the loop)
        return "complete" if c is not None else None

    def take(self) -> PendingConfirm | None:
        """PENDING/PERSISTENT -> NONE for a rollback: the commit to undo (its
        backup file stays until the rollback has been written)."""
        c = self.pending
        if c is None:
            return None
        if c.timer is not None:
            c.timer.cancel()
        self.pending = None
        return c
