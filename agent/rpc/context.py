"""What an RPC handler gets to know about the request it serves."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.rpc.host import ClientSession, Host


@dataclass(slots=True)
class RpcContext:
    server: Host
    session_id: int
    username: str
    message_id: str | None
    session: ClientSession | None = None
    # Free-form values hooks may leave for the handler (e.g. NACM decisions).
    extra: dict[str, Any] | None = None
