"""candidate, running and startup: contents, persistence, commit and the
confirmed-commit state machine (RFC 6241 §8.3-8.4).

Trees are lxml <config> wrappers in the NETCONF base namespace. running and
startup live in state_dir as XML written atomically; a pending confirmed
commit also keeps the configuration to roll back to on disk, so an agent that
dies before the confirming commit comes back on the old configuration.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from agent import persist
from agent.edit import Editor
from agent.errors import RpcError, RpcErrors
from agent.key_index import KeyIndex
from agent.locks import Locks
from agent.memif_config import MemifConfig
from agent.schema_index import index_for
from agent.typed_view import TypedViews, after_edit
from agent.validate import validate_config
from agent.xmltree import NC, NC_NS

log = logging.getLogger(__name__)
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def empty() -> etree._Element:
    return etree.Element(NC + "config", nsmap={None: NC_NS})


def serialize(tree: etree._Element) -> bytes:
    return etree.tostring(tree, xml_declaration=False, encoding="utf-8")


def _save_failed(e: OSError) -> RpcError:
    return RpcError("operation-failed", f"cannot save the running datastore: {e.strerror or e}")


@dataclass
class PendingConfirm:
    backup: etree._Element
    session_id: int
    persist: str | None
    timer: asyncio.TimerHandle | None = None


class Datastores:
    def __init__(self, server: Any, state_dir: Path) -> None:
        self.server = server
        self.state_dir = Path(state_dir)
        self.index = index_for(server.schema)
        from libyang.util import c2str

        self.prefixes = {c2str(m.cdata.ns): m.name() for m in server.schema}
        self.socket0 = getattr(server.options, "socket0", None) or "/run/vpp/memif.sock"
        self.locks = Locks()
        self.confirm: PendingConfirm | None = None
        self.candidate_editors: set[int] = set()
        self.candidate_dirty = False
        self._commit_lock = asyncio.Lock()
        # (lxml elements are falsy when childless: compare with None, never `or`.)
        self.running = self._load("running")
        if self.running is None:
            self.running = self._load("startup")
        if self.running is None:
            self.running = empty()
        rollback = self._load("rollback")
        if rollback is not None:
            # A confirmed commit was never confirmed before the agent stopped.
            log.warning("unconfirmed commit found at start-up: rolling back to the previous config")
            self.running = rollback
            persist.atomic_write(self._path("running"), serialize(rollback))
            persist.atomic_remove(self._path("rollback"))
        self.startup: etree._Element | None = self._load("startup")
        # Trees are replaced, never changed in place (an edit works on a copy),
        # so candidate and running may be one object until the next edit.
        self.candidate = self.running
        self.typed = TypedViews()
        self.keys = KeyIndex()
        # NACM's check_write(session_id, old, new), set by agent.nacm when loaded.
        self.write_check: Any = None
        # NACM's check_request(session_id, base, edit, default_operation, whole=False):
        # what a write request names, checked before it runs (RFC 8341 §3.4.5).
        self.request_check: Any = None
        # NACM's visible_errors(session_id, errors): edit errors a user may see.
        self.error_check: Any = None
        # RFC 6470 events (agent.config_events): changed(datastore, old, new, by) and
        # confirm(event, session_id, timeout); `by` is a session id, None for the agent.
        self.events: Any = None

    def check_write(self, session_id: int, old: etree._Element, new: etree._Element) -> None:
        """access-denied (NACM) unless the session may make every change old -> new."""
        if self.write_check is not None:
            self.write_check(session_id, old, new)

    # -- files -------------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.state_dir / f"{name}.xml"

    def _load(self, name: str) -> etree._Element | None:
        path = self._path(name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        tree = etree.fromstring(data, _PARSER)
        if tree.tag != NC + "config":
            raise ValueError(f"{path}: not a <config> document")
        return tree

    # -- reading -------------------------------------------------------------------------------

    def tree(self, name: str) -> etree._Element:
        if name == "running":
            return self.running
        if name == "candidate":
            return self.candidate
        if name == "startup":
            if self.startup is None:
                raise RpcError(
                    "invalid-value", "the startup datastore is empty (deleted)", type="protocol"
                )
            return self.startup
        raise RpcError("invalid-value", f"unknown datastore {name}", type="protocol")

    # -- locks ------------------------------------------------------------------------------

    def lock(self, target: str, session_id: int) -> None:
        """RFC 6241 §7.5: besides a lock already held, a lock MUST NOT be granted on a
        candidate with uncommitted changes (anyone's, the asker's own included) nor
        on running while another session's confirmed commit is pending."""
        if target == "candidate" and self.candidate_dirty:
            # Who changed it: error-info session-id 0 would mean a non-NETCONF holder.
            author = min(self.candidate_editors) if self.candidate_editors else 0
            raise RpcError(
                "lock-denied",
                f"the candidate has uncommitted changes (session {author}); commit or "
                "discard-changes first",
                type="protocol",
                info=[("session-id", str(author))],
            )
        c = self.confirm
        if target == "running" and c is not None and c.session_id != session_id:
            raise RpcError(
                "lock-denied",
                f"session {c.session_id} has a confirmed commit pending on running",
                type="protocol",
                info=[("session-id", str(c.session_id))],
            )
        self.locks.lock(target, session_id)

    # -- validation and running ---------------------------------------------------------------

    def validate(self, tree: etree._Element) -> MemifConfig:
        cfg = validate_config(
            tree,
            old=self.typed.get(self.running),
            socket0=self.socket0,
            typed=self.typed.known(tree),
        )
        self.typed.remember(tree, cfg)
        return cfg

    async def set_running(self, new: etree._Element, by: int | None) -> None:
        """Validate, apply to the dataplane, persist, then swap: a failure at any
        step leaves running (in memory and on disk) as it was. `by`: the session
        making the change, None for the agent itself."""
        old_cfg = self.typed.get(self.running)
        new_cfg = self.validate(new)
        applier = getattr(self.server, "applier", None)
        # Written in full before the dataplane changes (a full or read-only disk
        # fails here, with nothing changed); only the rename waits for the apply.
        try:
            staged = persist.Staged(self._path("running"), serialize(new))
        except OSError as e:
            raise _save_failed(e) from None
        try:
            if applier is not None:
                await applier.apply(new_cfg)
        except BaseException:
            staged.abort()
            raise
        try:
            staged.commit()
        except OSError as e:
            if applier is not None:
                try:
                    await applier.apply(old_cfg)
                except Exception:
                    log.exception("could not undo the dataplane after a failed write")
            raise _save_failed(e) from None
        old, self.running = self.running, new
        if not self.candidate_dirty:
            self.candidate = new
        if self.events is not None:
            self.events.changed("running", old, new, by)

    # -- edit-config -------------------------------------------------------------------------

    async def edit(
        self,
        target: str,
        edit: etree._Element,
        session_id: int,
        default_operation: str = "merge",
        test_option: str = "test-then-set",
        error_option: str = "stop-on-error",
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> list[RpcError]:
        """Returns the errors of a continue-on-error edit that still applied; raises otherwise.
        `check_base(tree)` may refuse the edit by raising, given the tree it would
        edit, read under the same lock as the edit (RESTCONF preconditions)."""
        if target not in ("candidate", "running"):
            raise RpcError(
                "invalid-value",
                f"edit-config target must be candidate or running, not {target}",
                type="protocol",
            )
        self.locks.require_writable(target, session_id)
        if target == "running" and test_option != "test-only":
            # Read, edit and set running under one lock: applying awaits the
            # dataplane process, and an edit computed from the running of before
            # another session's commit would undo that commit.
            async with self._commit_lock:
                work, errors = self._edited(
                    target, edit, session_id, default_operation, error_option, check_base
                )
                self._refuse_during_confirm(session_id, "edit running")
                await self.set_running(work, session_id)
            return errors
        work, errors = self._edited(
            target, edit, session_id, default_operation, error_option, check_base
        )
        if test_option == "test-only":
            self.validate(work)
        elif target == "candidate" and work is not self.candidate:
            self.candidate = work
            self.candidate_editors.add(session_id)
            self.candidate_dirty = True
        return errors

    def _edited(
        self,
        target: str,
        edit: etree._Element,
        session_id: int,
        default_operation: str,
        error_option: str,
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> tuple[etree._Element, list[RpcError]]:
        """`target` with `edit` applied (itself if nothing changed) and the errors
        of a continue-on-error edit."""
        base = self.tree(target)
        if check_base is not None:
            check_base(base)
        if self.request_check is not None:
            self.request_check(session_id, base, edit, default_operation)
        work = deepcopy(base)
        editor = Editor(
            self.index,
            self.prefixes,
            default_operation,
            continue_on_error=error_option == "continue-on-error",
        )
        result = editor.run(work, edit)
        if result.errors and self.error_check is not None:
            result.errors = self.error_check(session_id, result.errors)
        if result.errors and error_option != "continue-on-error":
            raise RpcErrors(result.errors)
        if not result.changed:
            return (base if target == "candidate" else work), result.errors
        self.check_write(session_id, base, work)
        # Also the type check of what the edit wrote (RFC 6241: invalid-value
        # at edit time, even though the candidate may be incomplete until commit).
        self.typed.remember(work, after_edit(self.typed.known(base), work, result))
        return work, result.errors

    def _refuse_during_confirm(self, session_id: int, what: str) -> None:
        c = self.confirm
        if c is not None and c.persist is None and c.session_id != session_id:
            raise RpcError(
                "in-use",
                f"cannot {what}: session {c.session_id} has a confirmed commit pending",
                type="protocol",
                info=[("session-id", str(c.session_id))],
            )

    # -- candidate -----------------------------------------------------------------------------

    def discard(self) -> None:
        self.candidate = self.running
        self.candidate_editors.clear()
        self.candidate_dirty = False

    async def commit(
        self,
        session_id: int,
        confirmed: bool = False,
        timeout: int = 600,
        persist_token: str | None = None,
        persist_id: str | None = None,
    ) -> None:
        async with self._commit_lock:
            self.locks.require_writable("running", session_id)
            holder = self.locks.holder("candidate")
            if holder is not None and holder != session_id and self.candidate_dirty:
                # The lock holder's half-done candidate is its own until it commits
                # (docs/conformance.md: commit under another session's candidate lock).
                raise RpcError(
                    "in-use",
                    f"the candidate is locked by session {holder}: its changes are not "
                    "this session's to commit",
                    type="protocol",
                    info=[("session-id", str(holder))],
                )
            c = self.confirm
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
                    self._refuse_during_confirm(session_id, "commit")
            elif persist_id is not None:
                raise RpcError(
                    "invalid-value",
                    "no confirmed commit with this persist-id is pending",
                    type="protocol",
                    path="/nc:rpc/nc:commit/nc:persist-id",
                )
            backup = c.backup if c is not None else self.running
            new = self.candidate
            self.check_write(session_id, self.running, new)
            start = confirmed and c is None
            if start:
                # Saved first: a running that changed with no way back (disk full
                # after the swap) would outlive a restart unconfirmed.
                try:
                    persist.atomic_write(self._path("rollback"), serialize(backup))
                except OSError as e:
                    raise RpcError(
                        "operation-failed",
                        f"cannot save the confirmed-commit rollback: {e.strerror or e}",
                    ) from None
            try:
                await self.set_running(new, session_id)
            except BaseException:
                if start:
                    persist.atomic_remove(self._path("rollback"))
                raise
            if self.candidate is new:  # one tree, as after every commit
                self.candidate_editors.clear()
                self.candidate_dirty = False
            # else a session edited the candidate while this commit awaited the
            # dataplane: its edits (on top of what was committed) stay pending.
            if c is not None and c.timer is not None:
                c.timer.cancel()
            if confirmed:
                self.confirm = PendingConfirm(backup, session_id, persist_token)
                loop = asyncio.get_running_loop()
                self.confirm.timer = loop.call_later(timeout, self._expire)
                self._confirm_event("start" if c is None else "extend", session_id, timeout)
            else:
                self.confirm = None
                if c is not None:
                    persist.atomic_remove(self._path("rollback"))
                    self._confirm_event("complete", session_id)

    def _expire(self) -> None:
        log.warning("confirmed commit not confirmed in time: rolling back")
        asyncio.ensure_future(self.rollback("timeout", None))

    async def cancel_commit(self, session_id: int, persist_id: str | None) -> None:
        c = self.confirm
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
        # The rollback changes running for this session: it must be allowed to.
        self.check_write(session_id, self.running, c.backup)
        await self.rollback("cancel-commit", session_id)

    def _confirm_event(
        self, event: str, session_id: int | None, timeout: int | None = None
    ) -> None:
        if self.events is not None:
            self.events.confirm(event, session_id, timeout)

    async def rollback(self, why: str, by: int | None) -> None:
        """Undo a pending confirmed commit: `why` "timeout" (by None), "cancel-commit"
        (by the session that asked), or a session's end (by that session)."""
        async with self._commit_lock:
            c = self.confirm
            if c is None:
                return
            if c.timer is not None:
                c.timer.cancel()
            self.confirm = None
            self._confirm_event("timeout" if why == "timeout" else "cancel", by)
            try:
                # The agent itself puts the old configuration back.
                await self.set_running(c.backup, None)
            except (RpcError, RpcErrors) as e:
                log.error("rollback after %s failed: %s", why, e)
                return
            persist.atomic_remove(self._path("rollback"))
            self.discard()
            log.info("confirmed commit rolled back (%s)", why)

    # -- copy / delete ---------------------------------------------------------------------------

    async def copy(
        self,
        source: etree._Element,
        target: str,
        session_id: int,
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> None:
        """`check_base`: as for edit(), given the tree to be replaced."""
        if target != "running":
            return await self._copy(source, target, session_id, check_base)
        async with self._commit_lock:  # as for edit: nothing read from a running in flux
            return await self._copy(source, target, session_id, check_base)

    async def _copy(
        self,
        source: etree._Element,
        target: str,
        session_id: int,
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> None:
        self.locks.require_writable(target, session_id)
        new = deepcopy(source)
        current = self.startup if target == "startup" else self.tree(target)
        current = current if current is not None else empty()
        if check_base is not None:
            check_base(current)
        if self.request_check is not None:
            self.request_check(session_id, current, new, "replace", whole=True)
        self.check_write(session_id, current, new)
        if target == "running":
            self._refuse_during_confirm(session_id, "copy to running")
            await self.set_running(new, session_id)
        elif target == "candidate":
            self.typed.get(new)  # type errors now; rules wait for commit
            self.candidate = new
            self.candidate_editors.add(session_id)
            self.candidate_dirty = True
        elif target == "startup":
            self.validate(new)
            self._save_startup(new, session_id)
        else:
            raise RpcError("invalid-value", f"cannot copy to {target}", type="protocol")

    def _save_startup(self, tree: etree._Element | None, by: int) -> None:
        old = self.startup
        try:
            if tree is None:
                persist.atomic_remove(self._path("startup"))
            else:
                persist.atomic_write(self._path("startup"), serialize(tree))
        except OSError as e:
            raise RpcError(
                "operation-failed", f"cannot save the startup datastore: {e.strerror or e}"
            ) from None
        self.startup = tree
        if self.events is not None:
            self.events.changed(
                "startup",
                old if old is not None else empty(),
                tree if tree is not None else empty(),
                by,
            )

    def delete(self, target: str, session_id: int) -> None:
        if target != "startup":
            raise RpcError(
                "invalid-value",
                f"delete-config: only startup can be deleted, not {target}",
                type="protocol",
            )
        self.locks.require_writable(target, session_id)
        if self.startup is not None:
            self.check_write(session_id, self.startup, empty())
        self._save_startup(None, session_id)

    # -- sessions ------------------------------------------------------------------------------

    def session_ended(self, session_id: int) -> None:
        released = self.locks.release_session(session_id)
        if "candidate" in released and session_id in self.candidate_editors:
            # RFC 6241 §7.5: a lock holder's uncommitted candidate changes die with it.
            self.discard()
        # Without a lock the changes stay in the shared candidate, and the session
        # stays named as their author (a lock refused for them says who made them).
        c = self.confirm
        if c is not None and c.persist is None and c.session_id == session_id:
            asyncio.ensure_future(self.rollback(f"session {session_id} ended", session_id))
