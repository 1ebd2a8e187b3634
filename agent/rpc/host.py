"""What the RPC layer needs of the front end that serves it, and of a client
session: the NETCONF server (agent.server, sessions from agent.netconf) is one
such front end; a RESTCONF one can be another. Typed here so the RPC modules
never import the wire protocol or its transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from lxml import etree

if TYPE_CHECKING:
    import libyang

    from agent.datastore.store import Datastores
    from agent.nacm.enforce import Nacm
    from agent.rpc.context import RpcContext
    from agent.yangdata.filters import XPathRules
    from agent.yangdata.splice import TopSplice

Handler = Callable[["RpcContext", etree._Element], Any]
StateProvider = Callable[[], Any]


class ClientSession(Protocol):
    """One client's session, as operations and events see it."""

    session_id: int
    username: str
    source_host: str
    login_time: float
    subscription: Any  # agent.rpc.notifications.Subscription, or None
    data: dict
    in_rpcs: int
    in_bad_rpcs: int
    out_rpc_errors: int
    out_notifications: int

    @property
    def is_open(self) -> bool: ...

    @property
    def end_reason(self) -> str: ...

    @property
    def killed_by(self) -> int | None: ...

    def send_message(self, message: bytes) -> None: ...

    def close_after_reply(self) -> None: ...


class Host(Protocol):
    """The server an RPC module registers with and its handlers read."""

    options: Any
    schema: libyang.Context
    sessions: Mapping[int, Any]  # session id -> ClientSession
    stats: Any
    datastores: Datastores | None
    nacm: Nacm | None
    path_prefixes: dict[str, str]
    xpath_rules: XPathRules
    notification_checks: list[Callable[[Any, etree._Element], Any]]
    state_splices: Mapping[str, TopSplice]

    def register_rpc(self, ns: str, name: str, handler: Handler) -> None: ...

    def has_rpc(self, ns: str, name: str) -> bool: ...

    def add_capability(self, uri: str) -> None: ...

    def add_path_prefix(self, prefix: str, ns: str) -> None: ...

    def add_state_provider(
        self, fn: StateProvider, tags: tuple[str, ...] | None = None
    ) -> None: ...

    def add_state_splice(self, splice: TopSplice) -> None: ...

    def add_session_end_hook(self, fn: Callable[[int], Any]) -> None: ...

    def add_startup_hook(self, fn: Callable[[], Awaitable[None]]) -> None: ...

    def add_shutdown_hook(self, fn: Callable[[], Awaitable[None]]) -> None: ...

    def add_rpc_hook(self, fn: Callable[[RpcContext, etree._Element], None]) -> None: ...

    def set_notification_router(self, fn: Callable[[etree._Element], None]) -> None: ...

    def add_notification_check(self, fn: Callable[[Any, etree._Element], Any]) -> None: ...

    def add_session_start_hook(self, fn: Callable[[Any], Any]) -> None: ...

    def add_session_gone_hook(self, fn: Callable[[Any], Any]) -> None: ...

    async def collect_state(
        self, wanted: Callable[[str], bool] | None = None
    ) -> list[etree._Element]: ...

    def notify(self, event: etree._Element) -> None: ...

    def capabilities(self) -> list[str]: ...

    def content_id(self) -> str: ...

    def kill_session(
        self, session_id: int, reason: str = "killed", killed_by: int | None = None
    ) -> bool: ...
