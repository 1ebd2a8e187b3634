"""close-session and kill-session (RFC 6241 7.8, 7.9)."""

from __future__ import annotations

from lxml import etree

from agent.errors import NC_NS, RpcError
from agent.rpc.context import RpcContext
from agent.yangdata.params import U32_MAX, parse_uint, rpc_path

_SESSION_ID = f"{{{NC_NS}}}session-id"


def close_session(ctx: RpcContext, op: etree._Element) -> None:
    # The transport closes the session right after writing this reply.
    ctx.session.close_after_reply()


def kill_session(ctx: RpcContext, op: etree._Element) -> None:
    el = op.find(_SESSION_ID)
    if el is None:
        raise RpcError(
            "missing-element",
            "kill-session needs a <session-id>",
            type="protocol",
            path=rpc_path(op),
            info=[("bad-element", "session-id")],
        )
    text = (el.text or "").strip()
    target = parse_uint(text, 1, U32_MAX)
    if target is None:
        raise RpcError(
            "invalid-value",
            f"session-id {text[:40]!r} is not a session number",
            type="protocol",
            path=rpc_path(op, _SESSION_ID),
        )
    if target == ctx.session_id:
        raise RpcError(
            "invalid-value",
            "a session cannot kill itself; use close-session",
            type="protocol",
            path=rpc_path(op, _SESSION_ID),
        )
    if not ctx.server.kill_session(
        target, f"killed by session {ctx.session_id}", killed_by=ctx.session_id
    ):
        raise RpcError(
            "invalid-value",
            f"no session {target}",
            type="protocol",
            path=rpc_path(op, _SESSION_ID),
        )


def register(server) -> None:
    server.register_rpc(NC_NS, "close-session", close_session)
    server.register_rpc(NC_NS, "kill-session", kill_session)
