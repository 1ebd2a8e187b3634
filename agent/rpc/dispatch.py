"""The RPC table: operation element tag -> handler, the hooks that run before
every handler (the input check, NACM), and the error for an operation nobody
serves. Protocol-neutral: a front end (agent.server for NETCONF) finds the
handler, builds the RpcContext and turns the result or the error into its
own reply."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import libyang
from lxml import etree

from agent.errors import RpcError
from agent.rpc.context import RpcContext
from agent.rpc.host import Handler
from agent.yangdata.schema import module_ns

Hook = Callable[[RpcContext, etree._Element], None]


class RpcTable:
    def __init__(self, schema: libyang.Context) -> None:
        self.schema = schema
        self._handlers: dict[str, Handler] = {}
        self._hooks: list[Hook] = []

    def register(self, ns: str, name: str, handler: Handler) -> None:
        key = f"{{{ns}}}{name}"
        if key in self._handlers:
            raise ValueError(f"RPC {name} in {ns} registered twice")
        self._handlers[key] = handler

    def has(self, ns: str, name: str) -> bool:
        return f"{{{ns}}}{name}" in self._handlers

    def operations(self) -> list[tuple[str, str]]:
        """(namespace, name) of every registered operation."""
        return [tuple(key[1:].split("}", 1)) for key in self._handlers]  # type: ignore[misc]

    def add_hook(self, fn: Hook) -> None:
        """fn(ctx, op) runs before every handler; raising RpcError refuses the RPC."""
        self._hooks.append(fn)

    def handler(self, tag: str) -> Handler | None:
        return self._handlers.get(tag)

    def run(self, ctx: RpcContext, op: etree._Element, handler: Handler) -> Any:
        """The hooks, then the handler: its result, or an awaitable of it."""
        for hook in self._hooks:
            hook(ctx, op)
        return handler(ctx, op)

    def unknown(self, op: etree._Element) -> RpcError:
        """Why no handler serves `op` (RFC 6241 unknown-namespace or
        operation-not-supported)."""
        q = etree.QName(op)
        if not q.namespace:
            return RpcError(
                "unknown-namespace",
                f"operation <{q.localname}> has no namespace",
                type="protocol",
                info=[("bad-element", q.localname), ("bad-namespace", "")],
            )
        if not self._known_namespace(q.namespace):
            return RpcError(
                "unknown-namespace",
                f"no YANG module of this server has namespace {q.namespace}",
                type="protocol",
                info=[("bad-element", q.localname), ("bad-namespace", q.namespace)],
            )
        return RpcError(
            "operation-not-supported",
            f"operation <{q.localname}> ({q.namespace}) is not supported",
            type="protocol",
            info=[("bad-element", q.localname)],
        )

    def _known_namespace(self, ns: str) -> bool:
        if any(k.startswith(f"{{{ns}}}") for k in self._handlers):
            return True
        return any(module_ns(m) == ns for m in self.schema)
