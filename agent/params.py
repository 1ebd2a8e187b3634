"""Reading enumerated RPC parameters the same way in every operation module."""

from __future__ import annotations

from lxml import etree

from agent.errors import RpcError
from agent.xmltree import text_of


def one_of(
    el: etree._Element | None, name: str, allowed: tuple[str, ...], default: str, path: str
) -> str:
    """The value of parameter element `el` (named `name`, at error-path `path`),
    which must be one of `allowed`; `default` when the parameter is absent."""
    if el is None:
        return default
    value = text_of(el)
    if value not in allowed:
        raise RpcError(
            "invalid-value",
            f"{name} '{value}' is not one of {', '.join(allowed)}",
            type="protocol",
            path=path,
            info=[("bad-element", name)],
        )
    return value
