"""The one place RESTCONF touches the agent's NETCONF objects (Server, Datastores,
NACM, users, the login guard, notifications).

`Core` is what the rest of agent/restconf needs, as a Protocol; `ServerCore`
implements it over today's Server. Edits go through Datastores.edit, the path
a NETCONF edit-config of running takes (NACM request and write checks,
validation, the transactional dataplane apply, persistence, RFC 6470 events).
A RESTCONF request that writes is, for the length of that request, a session
of the Server's table without hooks (no netconf-session-start/-end, which are
NETCONF's): locks and NACM know writers by session id.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from copy import deepcopy
from typing import Any, Protocol

from lxml import etree

from agent.datastore.edit import Editor
from agent.datastore.store import empty
from agent.errors import RpcError, RpcErrors
from agent.ssh.logins import LoginGuard, check_password
from agent.yangdata.xmltree import NC, NC_NS, merge_into

log = logging.getLogger(__name__)


class Core(Protocol):
    """What RESTCONF needs of the agent."""

    schema: Any  # the libyang context
    index: dict  # agent.schema_index: top-level SNodeInfo by tag

    async def authenticate(self, username: str, password: str, peer: str) -> bool: ...

    def user_exists(self, username: str) -> bool: ...

    async def read(
        self,
        username: str,
        datastore: str,
        narrow: Callable[[etree._Element], etree._Element] | None = None,
        top: str | None = None,
    ) -> etree._Element:
        """A <config> wrapper of the datastore's top-level nodes as `username`
        may read them (never change it). "operational": running plus live state;
        `narrow(wrapper)` then gives the part wanted, as a new wrapper, of both
        before they are joined, and `top` the one top-level tag wanted."""
        ...

    def view(self, username: str, tree: etree._Element) -> etree._Element:
        """Datastore tree `tree` as the user may read it (never change it)."""
        ...

    def password_stamp(self, username: str) -> str | None:
        """The user's stored password hash (a remembered login is void when it changes)."""
        ...

    def prune(self, username: str, data: etree._Element) -> None:
        """Remove from the wrapper `data` (owned by the caller) what the user may not read."""
        ...

    def last_modified(self, datastore: str) -> float: ...

    async def edit(
        self,
        username: str,
        peer: str,
        edit: etree._Element,
        default_operation: str = "merge",
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> None:
        """Edit running as one NETCONF edit-config would (`edit`: a <config> with
        nc:operation attributes), keeping candidate and startup consistent;
        default_operation "replace": `edit` is all of running (copy-config).
        `check_base(running)` runs under the commit lock before the edit (preconditions)."""
        ...

    def rpcs(self) -> list[tuple[str, str]]:
        """(namespace, name) of the operations RESTCONF serves."""
        ...

    async def rpc(self, username: str, peer: str, op: etree._Element) -> Any:
        """Run one operation (its element, NETCONF style); the handler's result."""
        ...

    def subscribe(self, username: str, peer: str, deliver: Callable[[bytes], None]) -> Any:
        """Receive every NETCONF-stream notification this user may see as
        <notification> bytes; returns a handle for unsubscribe()."""
        ...

    def unsubscribe(self, handle: Any) -> None: ...


class RestconfSession:
    """A RESTCONF request that writes, or an event stream, as the RPC layer and
    the Server's session table see a client (agent.rpc.host.ClientSession, plus
    what Server.kill_session and end_session call): locks, NACM and
    notifications know clients by session id. `deliver` takes each
    notification's bytes as they are (no NETCONF framing); b"" ends the stream."""

    bad_hello = False

    def __init__(
        self,
        session_id: int,
        username: str,
        source_host: str,
        deliver: Callable[[bytes], None] | None = None,
    ) -> None:
        self.session_id = session_id
        self.username = username
        self.source_host = source_host
        self.login_time = time.time()
        self.subscription: Any = None
        self.data: dict = {}
        self.in_rpcs = self.in_bad_rpcs = self.out_rpc_errors = self.out_notifications = 0
        self._deliver = deliver
        self._open = True
        self._end_reason = "closed"
        self._killed_by: int | None = None

    @property
    def is_open(self) -> bool:
        return self._open

    @property
    def end_reason(self) -> str:
        return self._end_reason

    @property
    def killed_by(self) -> int | None:
        return self._killed_by

    def send_message(self, message: bytes) -> None:
        if self._open and self._deliver is not None:
            self._deliver(message)

    def close_after_reply(self) -> None:
        self._open = False

    def killed(self, by: int | None) -> None:
        self._end_reason = "killed"
        self._killed_by = by

    def close(self, reason: str = "closed") -> None:
        # kill-session or shutdown: a stream ends.
        if self._open and self._deliver is not None:
            self._deliver(b"")
        self._open = False

    def ended(self) -> None:
        self._open = False


class ServerCore:
    """Core over agent.server.Server as agent.app builds it."""

    def __init__(self, server: Any, guard: LoginGuard) -> None:
        self.server = server
        self.guard = guard
        self.schema = server.schema
        self.ds = server.datastores
        self.index = self.ds.index
        self._candidate_stamp: tuple[Any, float] = (None, time.time())

    # -- users -----------------------------------------------------------------------

    def user_exists(self, username: str) -> bool:
        users = self.server.users
        return users is not None and users.get(username) is not None

    async def authenticate(self, username: str, password: str, peer: str) -> bool:
        """A password check with the SSH logins' throttling (one LoginGuard)."""
        return await check_password(
            self.guard, self.server.users, username, password, peer, "RESTCONF"
        )

    # -- reading -----------------------------------------------------------------------

    async def read(
        self,
        username: str,
        datastore: str,
        narrow: Callable[[etree._Element], etree._Element] | None = None,
        top: str | None = None,
    ) -> etree._Element:
        nacm = self.server.nacm
        if datastore == "operational":
            # Only the part asked for is copied and joined: a GET of one interface
            # must not cost a copy of 1,000.
            tree = narrow(self.ds.running) if narrow else deepcopy(self.ds.running)
            state = etree.Element("w")
            state.extend(await self.server.collect_state(None if top is None else top.__eq__))
            if narrow is not None:
                state = narrow(state)
            merge_into(tree, state, self.index)
            if nacm is not None:
                nacm.filter_read(username, tree)
            return tree
        if datastore == "startup" and self.ds.startup is None:
            return empty()  # deleted (delete-config): nothing in it
        return self.view(username, self.ds.tree(datastore))

    def view(self, username: str, tree: etree._Element) -> etree._Element:
        nacm = self.server.nacm
        if nacm is None or nacm.exempt(username):
            return tree
        return nacm.readable_copy(username, tree)

    def password_stamp(self, username: str) -> str | None:
        users = self.server.users
        user = users.get(username) if users is not None else None
        return user.password_hash if user is not None else None

    def prune(self, username: str, data: etree._Element) -> None:
        nacm = self.server.nacm
        if nacm is not None:
            nacm.filter_read(username, data)

    def last_modified(self, datastore: str) -> float:
        if datastore == "candidate":
            tree, stamp = self._candidate_stamp
            if tree is not self.ds.candidate:
                self._candidate_stamp = (self.ds.candidate, time.time())
            return self._candidate_stamp[1]
        # running.xml and startup.xml are rewritten (atomically) on every change.
        name = "startup" if datastore == "startup" else "running"
        try:
            return os.stat(self.ds.state_dir / f"{name}.xml").st_mtime
        except OSError:
            return self.server.stats.start_time

    # -- writing -----------------------------------------------------------------------

    @contextlib.contextmanager
    def _session(self, username: str, peer: str) -> Iterator[RestconfSession]:
        server = self.server
        sid = server.next_session_id()
        session = RestconfSession(sid, username, peer)
        server.sessions[sid] = session
        try:
            yield session
        finally:
            if server.sessions.get(sid) is session:
                del server.sessions[sid]

    def _check_coexistence(self) -> None:
        """RFC 8040 §1.4: a datastore a RESTCONF edit would change that a NETCONF
        session holds locked fails the edit with lock-denied. Running's changes
        reach the candidate and startup too, so their locks count; a candidate
        holding uncommitted NETCONF changes would undo this edit at its commit,
        so the edit is refused while it does."""
        ds = self.ds
        for name in ("running", "candidate", "startup"):
            holder = ds.locks.holder(name)
            if holder is not None:
                raise RpcError(
                    "lock-denied",
                    f"the {name} datastore is locked by NETCONF session {holder}",
                    type="protocol",
                    info=[("session-id", str(holder))],
                )
        if ds.candidate_dirty:
            author = ds.candidate_author
            raise RpcError(
                "in-use",
                f"the candidate holds uncommitted changes of NETCONF session {author}: "
                "commit or discard them first",
                type="protocol",
                info=[("session-id", str(author))],
            )

    async def edit(
        self,
        username: str,
        peer: str,
        edit: etree._Element,
        default_operation: str = "merge",
        check_base: Callable[[etree._Element], None] | None = None,
    ) -> None:
        self._check_coexistence()
        ds = self.ds
        with self._session(username, peer) as session:
            if default_operation == "replace":
                # The whole datastore (PUT of {+restconf}/data): copy-config's path,
                # the tree built by the edit engine as for an inline <config>.
                tree = empty()
                errors = Editor(ds.index, ds.prefixes, "create").run(tree, edit).errors
                if errors:
                    raise RpcErrors(errors)
                await ds.copy(tree, "running", session.session_id, check_base=check_base)
            else:
                await ds.edit(
                    "running",
                    edit,
                    session.session_id,
                    default_operation=default_operation,
                    error_option="rollback-on-error",
                    check_base=check_base,
                )
            # RFC 8040 §1.4: with :startup, a RESTCONF edit of running also updates
            # startup (already validated and access-checked, as running).
            await ds._save_startup(ds.running, session.session_id)

    # -- operations ------------------------------------------------------------------------

    def rpcs(self) -> list[tuple[str, str]]:
        ops = self.server.rpcs.operations()
        return sorted((ns, name) for ns, name in ops if ns not in _NETCONF_PROTOCOL_NS)

    async def rpc(self, username: str, peer: str, op: etree._Element) -> Any:
        from agent.rpc.context import RpcContext

        table = self.server.rpcs
        handler = table.handler(op.tag)
        if handler is None or etree.QName(op).namespace in _NETCONF_PROTOCOL_NS:
            raise RpcError("invalid-value", "no such operation", type="protocol")
        with self._session(username, peer) as session:
            ctx = RpcContext(self.server, session.session_id, username, None, session)
            result = table.run(ctx, op, handler)
            if hasattr(result, "__await__"):
                result = await result
            return result

    # -- notifications -----------------------------------------------------------------

    def subscribe(self, username: str, peer: str, deliver: Callable[[bytes], None]) -> Any:
        from agent.rpc.notifications import STREAM, Subscription

        server = self.server
        sid = server.next_session_id()
        session = RestconfSession(sid, username, peer, deliver)
        session.subscription = Subscription(STREAM, None, None)
        server.sessions[sid] = session
        return session

    def unsubscribe(self, handle: Any) -> None:
        if self.server.sessions.get(handle.session_id) is handle:
            del self.server.sessions[handle.session_id]


# Operations that are NETCONF's own protocol (RESTCONF has methods for them),
# and event subscription (RESTCONF has event streams).
_NETCONF_PROTOCOL_NS = frozenset(
    {
        NC_NS,
        "urn:ietf:params:xml:ns:netconf:notification:1.0",
        "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda",
    }
)

__all__ = ["Core", "ServerCore", "NC"]
