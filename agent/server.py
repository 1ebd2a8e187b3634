"""The NETCONF front end: live sessions, the hello capabilities, the RPC table
and its hooks, and the reply bytes for a dispatched request.

agent.app builds it and the parts that plug into it (each RPC module's
register()); agent.ssh.transport feeds it sessions, and tests may drive it
directly. It does no I/O itself. The RPC modules see it as an
agent.rpc.host.Host, so they never depend on NETCONF's wire format.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.netconf.session import (
    BASE10,
    BASE11,
    BASE_PATH_PREFIXES,
    MessageLimits,
    Request,
    Session,
)
from agent.rpc.context import RpcContext
from agent.rpc.dispatch import RpcTable
from agent.rpc.host import Handler
from agent.yangdata.filters import XPathRules
from agent.yangdata.schema import module_ns
from agent.yangdata.splice import TopSplice

if TYPE_CHECKING:
    from agent.datastore.store import Datastores
    from agent.nacm.enforce import Nacm
    from agent.rpc.monitoring import Monitoring
    from agent.rpc.notifications import Notifications
    from agent.ssh.users import UserDB
    from dataplane.supervisor import Supervisor

log = logging.getLogger(__name__)

StateProvider = Callable[[], list]

# libyang's own bookkeeping modules are not something a client can use.
_HIDDEN_MODULES = frozenset({"yang"})


class Statistics:
    """RFC 6022 /netconf-state/statistics counters not kept per session."""

    def __init__(self) -> None:
        self.start_time = time.time()
        self.in_bad_hellos = 0
        self.in_sessions = 0
        self.dropped_sessions = 0
        # Totals of sessions that have ended; live sessions are summed on read.
        self.in_rpcs = 0
        self.in_bad_rpcs = 0
        self.out_rpc_errors = 0
        self.out_notifications = 0


class Server:
    def __init__(self, options: Any, schema: Any = None) -> None:
        if schema is None:
            from agent.yangdata.schema import shared_context

            schema = shared_context()
        self.options = options
        self.schema = schema
        self.sessions: dict[int, Session] = {}
        self.stats = Statistics()
        # (provider, the top-level tags it returns, or None if unknown)
        self.state_providers: list[tuple[StateProvider, frozenset[str] | None]] = []
        # Top-level nodes whose state a <get> can splice in as text (agent.yangdata.splice).
        self.state_splices: dict[str, TopSplice] = {}
        # The parts agent.app builds and hands over (None: not built).
        self.datastores: Datastores | None = None
        self.dataplane: Supervisor | None = None
        self.users: UserDB | None = None
        self.nacm: Nacm | None = None
        self.notifications: Notifications | None = None
        self.monitoring: Monitoring | None = None
        self.rpcs = RpcTable(schema)
        self._capabilities: list[str] = [BASE10, BASE11]
        self._hello_caps: list[str] | None = None
        self._session_end_hooks: list[Callable[[int], Any]] = []
        self._startup_hooks: list[Callable[[], Awaitable[None]]] = []
        self._shutdown_hooks: list[Callable[[], Awaitable[None]]] = []
        self._notification_router: Callable[[etree._Element], None] | None = None
        self._session_start_hooks: list[Callable[[Session], Any]] = []
        self._session_gone_hooks: list[Callable[[Session], Any]] = []
        self.notification_checks: list[Callable[[Session, etree._Element], bool]] = []
        self._next_session_id = 1
        self.message_limits = message_limits(options)
        # Prefix -> namespace for what error-paths and XPath filters may use
        # undeclared: "nc", then module names and prefixes of the schema.
        # Feature modules may add theirs (add_path_prefix) before sessions start.
        self.path_prefixes: dict[str, str] = dict(BASE_PATH_PREFIXES)
        for m in schema:
            ns = module_ns(m)
            self.path_prefixes.setdefault(m.name(), ns)
            self.path_prefixes.setdefault(m.prefix(), ns)
        self.xpath_rules = xpath_rules(options, self.path_prefixes)

    # -- registration (the contract) ---------------------------------------

    def register_rpc(self, ns: str, name: str, handler: Handler) -> None:
        self.rpcs.register(ns, name, handler)

    def add_path_prefix(self, prefix: str, ns: str) -> None:
        self.path_prefixes.setdefault(prefix, ns)

    def has_rpc(self, ns: str, name: str) -> bool:
        return self.rpcs.has(ns, name)

    def add_capability(self, uri: str) -> None:
        if uri not in self._capabilities:
            self._capabilities.append(uri)
            self._hello_caps = None

    def add_state_provider(self, fn: StateProvider, tags: tuple[str, ...] | None = None) -> None:
        """`tags`: the top-level nodes fn returns ("{ns}name"), so a filtered
        <get> need not call it when the filter selects none of them."""
        self.state_providers.append((fn, frozenset(tags) if tags is not None else None))

    def add_state_splice(self, splice: TopSplice) -> None:
        """Besides the tree provider of the same node, which a <get> uses when a
        filter or NACM has to see the tree."""
        self.state_splices[splice.tag] = splice

    def add_session_end_hook(self, fn: Callable[[int], Any]) -> None:
        self._session_end_hooks.append(fn)

    def add_startup_hook(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._startup_hooks.append(fn)

    def add_shutdown_hook(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._shutdown_hooks.append(fn)

    def add_rpc_hook(self, fn: Callable[[RpcContext, etree._Element], None]) -> None:
        """fn(ctx, op) runs before every handler; raising RpcError refuses the RPC.

        Extension to the brief's contract, for access control (NACM).
        """
        self.rpcs.add_hook(fn)

    def set_notification_router(self, fn: Callable[[etree._Element], None]) -> None:
        self._notification_router = fn

    def add_notification_check(
        self, fn: Callable[[Session, etree._Element], bool | etree._Element]
    ) -> None:
        """fn(session, event) -> False withholds the event from that session, True
        lets it pass, an element sends that (trimmed) copy instead (NACM)."""
        self.notification_checks.append(fn)

    def add_session_start_hook(self, fn: Callable[[Session], Any]) -> None:
        self._session_start_hooks.append(fn)

    def add_session_gone_hook(self, fn: Callable[[Session], Any]) -> None:
        """Like a session-end hook, but gets the Session (end_reason, killed_by)."""
        self._session_gone_hooks.append(fn)

    # -- state ----------------------------------------------------------------

    async def collect_state(
        self, wanted: Callable[[str], bool] | None = None
    ) -> list[etree._Element]:
        """Top-level state nodes from every provider (only those whose tags `wanted`
        accepts, when given); a failing provider is logged, not fatal. A provider
        may be a coroutine function (the dataplane's state is in another process)."""
        out: list[etree._Element] = []
        for fn, tags in self.state_providers:
            if wanted is not None and tags is not None and not any(map(wanted, tags)):
                continue
            try:
                nodes = fn()
                if hasattr(nodes, "__await__"):
                    nodes = await nodes
                out.extend(nodes or ())
            except Exception:
                log.exception("state provider %r failed", fn)
        return out

    def notify(self, event: etree._Element) -> None:
        """Send an event (the notification's content element) to subscribers."""
        if self._notification_router is not None:
            self._notification_router(event)

    # -- capabilities -----------------------------------------------------------

    def capabilities(self) -> list[str]:
        if self._hello_caps is None:
            self._hello_caps = self._capabilities + self.module_capabilities()
        return self._hello_caps

    def modules(self) -> list:
        return [m for m in self.schema if m.implemented() and m.name() not in _HIDDEN_MODULES]

    def content_id(self) -> str:
        text = ";".join(
            f"{m.name()}@{_revision(m)}:{','.join(_features(m))}" for m in self.modules()
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def module_capabilities(self) -> list[str]:
        # RFC 7950 5.6.4 points YANG 1.1 clients at the YANG library; the RFC 6020
        # module capabilities are listed as well because many clients (ncclient's
        # server_capabilities, Ansible) still look only at those.
        caps = []
        for m in self.modules():
            uri = f"{module_ns(m)}?module={m.name()}"
            rev = _revision(m)
            if rev:
                uri += f"&revision={rev}"
            feats = _features(m)
            if feats:
                uri += "&features=" + ",".join(feats)
            caps.append(uri)
        lib = self.schema.get_module("ietf-yang-library")
        caps.append(
            "urn:ietf:params:netconf:capability:yang-library:1.1"
            f"?revision={_revision(lib)}&content-id={self.content_id()}"
        )
        return caps

    # -- sessions -------------------------------------------------------------

    def next_session_id(self) -> int:
        """An id no other session of this agent has had: NETCONF sessions and
        RESTCONF's writers and streams share one numbering, as locks and NACM
        know clients by it."""
        sid = self._next_session_id
        self._next_session_id += 1
        return sid

    def new_session(self, username: str, source_host: str = "") -> Session:
        sid = self.next_session_id()
        session = Session(
            sid,
            username,
            self.capabilities(),
            max_message_size=getattr(self.options, "max_message_size", 0) or 0,
            source_host=source_host,
            limits=self.message_limits,
            path_prefixes=self.path_prefixes,
        )
        self.sessions[sid] = session
        self.stats.in_sessions += 1
        for fn in self._session_start_hooks:
            try:
                fn(session)
            except Exception:
                log.exception("session-start hook %r failed", fn)
        return session

    def end_session(self, session: Session) -> None:
        """Forget a session and run the end hooks (locks, subscriptions); idempotent."""
        if self.sessions.pop(session.session_id, None) is None:
            return
        session.ended()
        st = self.stats
        st.in_rpcs += session.in_rpcs
        st.in_bad_rpcs += session.in_bad_rpcs
        st.out_rpc_errors += session.out_rpc_errors
        st.out_notifications += session.out_notifications
        if session.bad_hello:
            st.in_bad_hellos += 1
        for fn in self._session_end_hooks:
            try:
                fn(session.session_id)
            except Exception:
                log.exception("session-end hook %r failed for session %d", fn, session.session_id)
        for fn in self._session_gone_hooks:
            try:
                fn(session)
            except Exception:
                log.exception("session-gone hook %r failed", fn)

    def kill_session(
        self, session_id: int, reason: str = "killed", killed_by: int | None = None
    ) -> bool:
        session = self.sessions.get(session_id)
        if session is None:
            return False
        self.stats.dropped_sessions += 1
        session.killed(killed_by)
        session.close(reason)
        # The transport ends the session when the channel closes; do it now too,
        # so the victim's locks are free when kill-session replies <ok/>.
        self.end_session(session)
        return True

    async def startup(self) -> None:
        for fn in self._startup_hooks:
            await fn()

    async def shutdown(self) -> None:
        for session in list(self.sessions.values()):
            session.close("agent shutting down")
            self.end_session(session)
        for fn in reversed(self._shutdown_hooks):
            try:
                await fn()
            except Exception:
                log.exception("shutdown hook %r failed", fn)

    # -- dispatch -------------------------------------------------------------

    def dispatch(self, session: Session, request: Request):
        """Reply bytes for a request, or an awaitable of them for async handlers."""
        op = request.op
        handler = self.rpcs.handler(op.tag)
        if handler is None:
            return session.error_reply(request, [self.rpcs.unknown(op)], bad_rpc=True)
        ctx = RpcContext(self, session.session_id, session.username, request.message_id, session)
        try:
            result = self.rpcs.run(ctx, op, handler)
        except Exception as e:
            return self._error_reply(session, request, e)
        if hasattr(result, "__await__"):
            return self._finish(session, request, result)
        return self._reply(session, request, result)

    async def _finish(self, session: Session, request: Request, pending) -> bytes:
        try:
            result = await pending
        except Exception as e:
            return self._error_reply(session, request, e)
        return self._reply(session, request, result)

    def _reply(self, session: Session, request: Request, result) -> bytes:
        try:
            return session.reply(request, result)
        except Exception as e:  # a handler returned something unserializable
            return self._error_reply(session, request, e)

    def _error_reply(self, session: Session, request: Request, exc: Exception) -> bytes:
        if isinstance(exc, RpcError):
            errors = [exc]
        elif isinstance(exc, RpcErrors):
            errors = exc.errors
        else:
            log.exception(
                "RPC %s (session %d) failed", request.op.tag, session.session_id, exc_info=exc
            )
            errors = [RpcError("operation-failed", f"internal error: {type(exc).__name__}: {exc}")]
        return session.error_reply(request, errors)


def message_limits(options: Any) -> MessageLimits:
    """The per-message bounds from the agent options (absent ones: defaults)."""
    base = MessageLimits()
    values = {}
    for name in ("max_elements", "max_attributes", "max_filter_elements", "max_xpath_length"):
        v = getattr(options, name, None)
        values[name] = getattr(base, name) if v is None else int(v)
    return MessageLimits(**values, offload_size=base.offload_size)


def xpath_rules(options: Any, prefixes: dict[str, str]) -> XPathRules:
    """The :xpath filter bounds from the agent options (absent ones: defaults)."""
    base = XPathRules()
    budget = getattr(options, "xpath_budget", None)
    depth = getattr(options, "max_xpath_depth", None)
    return XPathRules(
        budget=base.budget if budget is None else int(budget),
        max_depth=base.max_depth if depth is None else int(depth),
        prefixes=prefixes,
    )


def _revision(module) -> str:
    for rev in module.revisions():
        return str(rev.date())
    return ""


def _features(module) -> list[str]:
    return [f.name() for f in module.features() if f.state()]
