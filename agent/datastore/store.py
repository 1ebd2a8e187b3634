"""candidate, running and startup: contents, persistence and commit (RFC 6241
§8.3), with the confirmed commit of §8.4 in agent.datastore.confirmed.

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
from pathlib import Path
from typing import Protocol

import libyang
from lxml import etree

from agent.datastore import persist
from agent.datastore.confirmed import ConfirmedCommit
from agent.datastore.edit import Editor
from agent.datastore.locks import Locks
from agent.datastore.worker import Worker
from agent.errors import RpcError, RpcErrors
from agent.memif.config import MemifConfig
from agent.memif.typed_view import TypedViews, after_edit
from agent.yangdata.filters import DEFAULT_XPATH_RULES, XPathRules
from agent.yangdata.key_index import KeyIndex
from agent.yangdata.schema import module_ns
from agent.yangdata.schema_index import index_for
from agent.yangdata.validate import validate_config
from agent.yangdata.xmltree import NC, NC_NS

log = logging.getLogger(__name__)
# A big edit computed in the worker is computed again when the tree it started
# from was replaced meanwhile; after this many such races it runs on the loop.
_ATTEMPTS = 3
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def empty() -> etree._Element:
    return etree.Element(NC + "config", nsmap={None: NC_NS})


def serialize(tree: etree._Element) -> bytes:
    return etree.tostring(tree, xml_declaration=False, encoding="utf-8")


def _save_failed(e: OSError) -> RpcError:
    return RpcError("operation-failed", f"cannot save the running datastore: {e.strerror or e}")


class Applier(Protocol):
    """Carries a validated configuration to the dataplane (agent.memif.apply)."""

    async def apply(self, target: MemifConfig) -> None: ...


class WriteAccess(Protocol):
    """Who may change what (NACM, agent.nacm.enforce)."""

    def check_write(self, session_id: int, old: etree._Element, new: etree._Element) -> None:
        """access-denied unless the session may make every change old -> new."""

    def check_request(
        self,
        session_id: int,
        base: etree._Element,
        edit: etree._Element,
        default_operation: str,
        whole: bool = False,
    ) -> None:
        """What a write request names, checked before it runs (RFC 8341 §3.4.5)."""

    def visible_errors(self, session_id: int, errors: list[RpcError]) -> list[RpcError]:
        """The edit errors this session may see."""
        return errors


class ChangeEvents(Protocol):
    """RFC 6470 events (agent.rpc.config_events); `by` is a session id, None for the agent."""

    def changed(
        self, datastore: str, old: etree._Element, new: etree._Element, by: int | None
    ) -> None: ...

    def confirm(self, event: str, session_id: int | None, timeout: int | None) -> None: ...


class Datastores:
    def __init__(
        self,
        schema: libyang.Context,
        state_dir: Path,
        *,
        socket0: str = "/run/vpp/memif.sock",
        xpath_rules: XPathRules = DEFAULT_XPATH_RULES,
        typed: TypedViews | None = None,
        applier: Applier | None = None,
        access: WriteAccess | None = None,
        events: ChangeEvents | None = None,
        worker: Worker | None = None,
    ) -> None:
        # Big edits, copies, commits and validations run there (None: on the loop).
        self.worker = worker
        self.state_dir = Path(state_dir)
        self.index = index_for(schema)
        self.prefixes = {module_ns(m): m.name() for m in schema}
        self.socket0 = socket0
        self.xpath_rules = xpath_rules
        self.applier = applier
        self.access = access
        self.events = events
        self.locks = Locks()
        self.confirm = ConfirmedCommit(self._path("rollback"), serialize, self._expire)
        self.candidate_editors: set[int] = set()
        self.candidate_dirty = False
        self._commit_lock = asyncio.Lock()
        self._startup_lock = asyncio.Lock()
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
        self.typed = typed if typed is not None else TypedViews()
        self.keys = KeyIndex()

    @property
    def candidate_author(self) -> int:
        """The first session whose uncommitted edits the candidate holds, for
        error-info; 0 (a non-NETCONF holder) when none is known."""
        return min(self.candidate_editors) if self.candidate_editors else 0

    def check_write(self, session_id: int, old: etree._Element, new: etree._Element) -> None:
        """access-denied (NACM) unless the session may make every change old -> new."""
        if self.access is not None:
            self.access.check_write(session_id, old, new)

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
            author = self.candidate_author
            raise RpcError(
                "lock-denied",
                f"the candidate has uncommitted changes (session {author}); commit or "
                "discard-changes first",
                type="protocol",
                info=[("session-id", str(author))],
            )
        other = self.confirm.lock_holder(session_id)
        if target == "running" and other is not None:
            raise RpcError(
                "lock-denied",
                f"session {other} has a confirmed commit pending on running",
                type="protocol",
                info=[("session-id", str(other))],
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

    def worker_for(self, *trees: etree._Element | None) -> Worker | None:
        """The worker, if work on these trees is big enough to leave the loop."""
        worker = self.worker
        return worker if worker is not None and worker.big(*trees) else None

    @staticmethod
    async def _off_loop(worker: Worker | None, fn, *args):
        """fn(*args) in `worker`, or here when there is none."""
        if worker is None:
            return fn(*args)
        return await worker.run(fn, *args)

    def _prepare(
        self, old: etree._Element, new: etree._Element
    ) -> tuple[MemifConfig, MemifConfig, bytes]:
        """What set_running needs before the dataplane changes: both typed views
        (`new` validated) and the file `new` is written as. Touches no datastore
        state: it may run in the worker."""
        return self.typed.get(old), self.validate(new), serialize(new)

    async def set_running(self, new: etree._Element, by: int | None) -> None:
        """Validate, apply to the dataplane, persist, then swap: a failure at any
        step leaves running (in memory and on disk) as it was. `by`: the session
        making the change, None for the agent itself."""
        old_cfg, new_cfg, data = await self._off_loop(
            self.worker_for(self.running, new), self._prepare, self.running, new
        )
        applier = self.applier
        # Written in full before the dataplane changes (a full or read-only disk
        # fails here, with nothing changed); only the rename waits for the apply.
        # fsync waits for the disk, which the loop must not: in a thread of its
        # own (not the worker, where it would queue behind big requests).
        try:
            staged = await asyncio.to_thread(persist.Staged, self._path("running"), data)
        except OSError as e:
            raise _save_failed(e) from None
        try:
            if applier is not None:
                await applier.apply(new_cfg)
        except BaseException:
            staged.abort()
            raise
        try:
            await asyncio.to_thread(staged.commit)
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
        args = (edit, session_id, default_operation, error_option, check_base)
        if target == "running" and test_option != "test-only":
            # Read, edit and set running under one lock: applying awaits the
            # dataplane process, and an edit computed from the running of before
            # another session's commit would undo that commit.
            async with self._commit_lock:
                work, errors = await self._computed(target, session_id, edit, self._edited, *args)
                self.confirm.refuse_other(session_id, "edit running")
                await self.set_running(work, session_id)
            return errors
        work, errors = await self._computed(target, session_id, edit, self._edited, *args)
        if test_option == "test-only":
            await self._off_loop(self.worker_for(work), self.validate, work)
        elif target == "candidate" and work is not self.candidate:
            self.candidate = work
            self.candidate_editors.add(session_id)
            self.candidate_dirty = True
        return errors

    async def _computed(self, target: str, session_id: int, request: etree._Element, fn, *args):
        """fn(base, target, *args) for the tree `target` holds when this returns.

        A big one runs in the worker on a snapshot, and runs again if the target
        or running (whose NACM rules decided) was replaced meanwhile, so the
        result is never one computed from a datastore another session changed
        since; after _ATTEMPTS such races it runs here, where nothing
        interleaves. `fn` must only read datastore state (it may run in the
        worker); a lock another session took meanwhile refuses the result."""
        for _ in range(_ATTEMPTS):
            base, running = self.tree(target), self.running
            worker = self.worker_for(base, request)
            if worker is None:
                break
            try:
                result = await worker.run(fn, base, target, *args)
            except (RpcError, RpcErrors):
                if self.tree(target) is base and self.running is running:
                    raise
                continue
            if self.tree(target) is base and self.running is running:
                self.locks.require_writable(target, session_id)
                return result
        result = fn(self.tree(target), target, *args)
        self.locks.require_writable(target, session_id)
        return result

    def _edited(
        self,
        base: etree._Element,
        target: str,
        edit: etree._Element,
        session_id: int,
        default_operation: str,
        error_option: str,
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> tuple[etree._Element, list[RpcError]]:
        """`base` (the tree of `target`) with `edit` applied (itself if nothing
        changed) and the errors of a continue-on-error edit. Changes no datastore
        state: it may run in the worker."""
        if check_base is not None:
            check_base(base)
        if self.access is not None:
            self.access.check_request(session_id, base, edit, default_operation)
        work = deepcopy(base)
        editor = Editor(
            self.index,
            self.prefixes,
            default_operation,
            continue_on_error=error_option == "continue-on-error",
        )
        result = editor.run(work, edit)
        if result.errors and self.access is not None:
            result.errors = self.access.visible_errors(session_id, result.errors)
        if result.errors and error_option != "continue-on-error":
            raise RpcErrors(result.errors)
        if not result.changed:
            return (base if target == "candidate" else work), result.errors
        self.check_write(session_id, base, work)
        # Also the type check of what the edit wrote (RFC 6241: invalid-value
        # at edit time, even though the candidate may be incomplete until commit).
        self.typed.remember(work, after_edit(self.typed.known(base), work, result))
        return work, result.errors

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
            self.confirm.check_commit(session_id, persist_id)
            pending = self.confirm.pending
            backup = self.confirm.backup_for(self.running)
            new = self.candidate
            # (running cannot change under the commit lock; a candidate edited
            # meanwhile stays pending, as while the dataplane applies)
            await self._off_loop(
                self.worker_for(self.running, new), self.check_write, session_id, self.running, new
            )
            start = confirmed and pending is None
            if start:
                # Saved first: a running that changed with no way back (disk full
                # after the swap) would outlive a restart unconfirmed. A big file:
                # serialised and fsynced in a thread, as running.
                await asyncio.to_thread(self.confirm.save_backup, backup)
            try:
                await self.set_running(new, session_id)
            except BaseException:
                if start:
                    self.confirm.drop_backup()
                raise
            if self.candidate is new:  # one tree, as after every commit
                self.candidate_editors.clear()
                self.candidate_dirty = False
            # else a session edited the candidate while this commit awaited the
            # dataplane: its edits (on top of what was committed) stay pending.
            event = self.confirm.committed(backup, session_id, confirmed, timeout, persist_token)
            if event == "complete":
                await asyncio.to_thread(self.confirm.drop_backup)
            if event is not None:
                self._confirm_event(event, session_id, timeout if confirmed else None)

    def _expire(self) -> None:
        log.warning("confirmed commit not confirmed in time: rolling back")
        asyncio.ensure_future(self.rollback("timeout", None))

    async def cancel_commit(self, session_id: int, persist_id: str | None) -> None:
        c = self.confirm.check_cancel(session_id, persist_id)
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
            c = self.confirm.take()
            if c is None:
                return
            self._confirm_event("timeout" if why == "timeout" else "cancel", by)
            try:
                # The agent itself puts the old configuration back.
                await self.set_running(c.backup, None)
            except (RpcError, RpcErrors) as e:
                log.error("rollback after %s failed: %s", why, e)
                return
            self.discard()
            await asyncio.to_thread(self.confirm.drop_backup)
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
        if target == "startup":
            before = self.startup
            current = before if before is not None else empty()
            worker = self.worker_for(current, source)
            new = await self._off_loop(
                worker, self._copied, current, target, source, session_id, check_base
            )
            if self.startup is not before:  # replaced meanwhile: decided again, here
                current = self.startup if self.startup is not None else empty()
                new = self._copied(current, target, source, session_id, check_base)
        else:
            new = await self._computed(
                target, session_id, source, self._copied, source, session_id, check_base
            )
        if target == "running":
            self.confirm.refuse_other(session_id, "copy to running")
            await self.set_running(new, session_id)
        elif target == "candidate":
            self.candidate = new
            self.candidate_editors.add(session_id)
            self.candidate_dirty = True
        elif target == "startup":
            await self._save_startup(new, session_id)
        else:
            raise RpcError("invalid-value", f"cannot copy to {target}", type="protocol")

    def _copied(
        self,
        current: etree._Element,
        target: str,
        source: etree._Element,
        session_id: int,
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> etree._Element:
        """A copy of `source` to replace `current`, the tree of `target`, once the
        session may write it and it is valid (for the candidate: its types; the
        rules wait for commit). Changes no datastore state: it may run in the
        worker."""
        if check_base is not None:
            check_base(current)
        new = deepcopy(source)
        if self.access is not None:
            self.access.check_request(session_id, current, new, "replace", whole=True)
        self.check_write(session_id, current, new)
        if target == "candidate":
            self.typed.get(new)
        elif target == "startup":
            self.validate(new)
        return new

    async def _save_startup(self, tree: etree._Element | None, by: int) -> None:
        # One write at a time, so the file and the tree in memory end the same.
        async with self._startup_lock:
            await self._write_startup(tree, by)

    async def _write_startup(self, tree: etree._Element | None, by: int) -> None:
        old = self.startup
        path = self._path("startup")
        try:
            # fsync waits for the disk: in a thread, as for running
            if tree is None:
                await asyncio.to_thread(persist.atomic_remove, path)
            else:
                await asyncio.to_thread(persist.atomic_write, path, serialize(tree))
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

    async def delete(self, target: str, session_id: int) -> None:
        if target != "startup":
            raise RpcError(
                "invalid-value",
                f"delete-config: only startup can be deleted, not {target}",
                type="protocol",
            )
        self.locks.require_writable(target, session_id)
        startup = self.startup
        if startup is not None:
            worker = self.worker_for(startup)
            await self._off_loop(worker, self.check_write, session_id, startup, empty())
            if self.startup is not startup and self.startup is not None:
                self.check_write(session_id, self.startup, empty())  # replaced meanwhile
        await self._save_startup(None, session_id)

    # -- sessions ------------------------------------------------------------------------------

    def session_ended(self, session_id: int) -> None:
        released = self.locks.release_session(session_id)
        if "candidate" in released and session_id in self.candidate_editors:
            # RFC 6241 §7.5: a lock holder's uncommitted candidate changes die with it.
            self.discard()
        # Without a lock the changes stay in the shared candidate, and the session
        # stays named as their author (a lock refused for them says who made them).
        if self.confirm.ends_with(session_id):
            asyncio.ensure_future(self.rollback(f"session {session_id} ended", session_id))
