"""Reading RPC parameters the same way in every operation module: enumerations
and unsigned integers."""

from __future__ import annotations

from lxml import etree

from agent.errors import RpcError
from agent.yangdata.schema import module_prefixes
from agent.yangdata.xmltree import text_of

U32_MAX = 4294967295


def parse_uint(text: str, lo: int, hi: int) -> int | None:
    """`text` as an integer in lo..hi, read as libyang reads integers (surrounding
    space, an optional '+', leading zeros), or None. ASCII digits only: Python's
    int() would take '٣' as 3, and raise on 5,000 digits."""
    t = text.strip()
    if t.startswith("+"):
        t = t[1:]
    if not t.isascii() or not t.isdigit():
        return None
    t = t.lstrip("0") or "0"
    if len(t) > 20:  # beyond any uint64
        return None
    v = int(t)
    return v if lo <= v <= hi else None


def uint_param(el: etree._Element, name: str, lo: int, hi: int, path: str, what: str = "") -> int:
    """The value of integer parameter `el`, or invalid-value naming the range."""
    v = parse_uint(text_of(el), lo, hi)
    if v is None:
        raise _invalid(name, text_of(el)[:40], what or f"a number from {lo} to {hi}", path)
    return v


def one_of(
    el: etree._Element | None, name: str, allowed: tuple[str, ...], default: str, path: str
) -> str:
    """The value of parameter element `el` (named `name`, at error-path `path`),
    which must be one of `allowed`; `default` when the parameter is absent."""
    if el is None:
        return default
    value = text_of(el)
    if value not in allowed:
        raise _invalid(name, value, f"one of {', '.join(allowed)}", path)
    return value


def _invalid(name: str, value: str, wanted: str, path: str) -> RpcError:
    return RpcError(
        "invalid-value",
        f"{name} '{value}' is not {wanted}",
        type="protocol",
        path=path,
        info=[("bad-element", name)],
    )


def rpc_path(op: etree._Element, *tags: str) -> str:
    """error-path of operation `op`'s parameter `tags` (lxml tags, outermost first).
    RFC 6241 §4.3: a payload element's path is an absolute XPath from the <rpc>
    element, one form for every operation: /nc:rpc/nc:edit-config/nc:test-option."""
    steps = ["/nc:rpc", _step(op.tag)]
    steps += [_step(t) for t in tags]
    return "/".join(steps)


def _step(tag: str) -> str:
    q = etree.QName(tag)
    prefix = module_prefixes().get(q.namespace or "")
    return f"{prefix}:{q.localname}" if prefix else q.localname
