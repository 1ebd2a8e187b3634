"""RFC 8040 §4.8 query parameters: parsing (each at most once, only where the
method allows it) and what content, depth and fields do to a reply tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from agent.restconf.errors import RestconfError, bad_request
from agent.restconf.paths import split_identifier
from agent.yangdata import defaults
from agent.yangdata.schema_index import LIST, SNodeInfo
from agent.yangdata.xmltree import elements

ALLOWED = {
    "GET": {"content", "depth", "fields", "with-defaults"},
    "HEAD": {"content", "depth", "fields", "with-defaults"},
    "POST": {"insert", "point"},
    "PUT": {"insert", "point"},
    "PATCH": set(),
    "DELETE": set(),
    "OPTIONS": set(),
}
STREAM_PARAMS = {"filter", "start-time", "stop-time"}
MAX_FIELDS = 1024
MAX_QUERY = 4096


@dataclass
class Query:
    content: str = "all"
    depth: int | None = None  # None: unbounded
    fields: dict | None = None
    with_defaults: str = "explicit"
    raw: dict[str, str] = field(default_factory=dict)


def parse(raw_query: str, method: str, allowed: set[str] | None = None) -> Query:
    if len(raw_query) > MAX_QUERY:
        raise RestconfError(
            413, "too-big", f"the query is longer than {MAX_QUERY} characters", type="protocol"
        )
    allowed = ALLOWED.get(method, set()) if allowed is None else allowed
    q = Query()
    for part in raw_query.split("&") if raw_query else ():
        if not part:
            continue
        name, _, value = part.partition("=")
        try:
            name = unquote(name, errors="strict")
            value = unquote(value.replace("+", " "), errors="strict")
        except UnicodeDecodeError:
            raise bad_request("the query is not UTF-8 once percent-decoded") from None
        if name not in allowed:
            known = ALLOWED["GET"] | ALLOWED["POST"] | STREAM_PARAMS
            why = "is not allowed with " + method if name in known else "is not a query parameter"
            raise bad_request(
                f"{name[:64]!r} {why}",
                tag="unknown-attribute" if name not in known else "invalid-value",
                info=[("bad-attribute", name[:64])],
            )
        if name in q.raw:
            raise bad_request(f"query parameter {name} given twice")
        q.raw[name] = value
    if "content" in q.raw:
        q.content = _one_of(q.raw["content"], "content", ("config", "nonconfig", "all"))
    if "depth" in q.raw:
        v = q.raw["depth"]
        if v != "unbounded":
            if not v.isdigit() or not 1 <= int(v) <= 65535:
                raise bad_request(f"depth must be 1 to 65535 or 'unbounded', not {v[:20]!r}")
            q.depth = int(v)
    if "with-defaults" in q.raw:
        q.with_defaults = _one_of(q.raw["with-defaults"], "with-defaults", defaults.MODES)
    if "fields" in q.raw:
        q.fields = parse_fields(q.raw["fields"])
    if "insert" in q.raw or "point" in q.raw:
        # The model's only ordered-by user lists are NACM's rule lists, and the edit
        # engine has no yang:insert: every list keeps the order entries came in.
        raise RestconfError(
            400,
            "invalid-value",
            "insert and point apply to ordered-by user lists; the agent orders none by user",
            type="protocol",
        )
    return q


def _one_of(value: str, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise bad_request(f"{name} must be one of {', '.join(choices)}, not {value[:40]!r}")
    return value


# -- fields (RFC 8040 §4.8.3) ----------------------------------------------------------------


def parse_fields(text: str) -> dict:
    """fields-expr -> {(module or None, name): sub-selection or None (all of it)}."""
    count = [0]
    sel, pos = _expr(text, 0, count, 0)
    if pos != len(text):
        raise bad_request(f"fields: unexpected {text[pos : pos + 20]!r} at {pos}")
    return sel


def _expr(text: str, pos: int, count: list[int], level: int) -> tuple[dict, int]:
    if level > 16:
        raise bad_request("fields nests too deep")
    sel: dict = {}
    while True:
        pos = _path(text, pos, sel, count, level)
        if pos < len(text) and text[pos] == ";":
            pos += 1
            continue
        return sel, pos


def _path(text: str, pos: int, sel: dict, count: list[int], level: int) -> int:
    start = pos
    while pos < len(text) and text[pos] not in "/();":
        pos += 1
    ident = text[start:pos]
    if not ident:
        raise bad_request(f"fields: a node name is missing at {start}")
    count[0] += 1
    if count[0] > MAX_FIELDS:
        raise bad_request(f"fields names more than {MAX_FIELDS} nodes")
    key = split_identifier(ident, "fields")
    if pos < len(text) and text[pos] in "/(":
        # A node already selected whole stays whole; sub-selections add up.
        whole = key in sel and sel[key] is None
        sub = {} if whole else sel.get(key, {})
        if text[pos] == "/":
            pos = _path(text, pos + 1, sub, count, level + 1)
        else:
            inner, pos = _expr(text, pos + 1, count, level + 1)
            if pos >= len(text) or text[pos] != ")":
                raise bad_request("fields: '(' without ')'")
            pos += 1
            sub.update(inner)
        sel[key] = None if whole else sub
        return pos
    sel[key] = None
    return pos


def _selected(sel: dict, el: etree._Element, module_of: dict[str, str]) -> tuple[bool, dict | None]:
    q = etree.QName(el)
    for (mod, name), sub in sel.items():
        if name == q.localname and (mod is None or module_of.get(q.namespace or "") == mod):
            return True, sub
    return False, None


def apply_fields(
    el: etree._Element, info: SNodeInfo | None, sel: dict, module_of: dict[str, str]
) -> None:
    """Keep only the children of `el` that `sel` names (and list keys)."""
    keys = set(info.keys) if info is not None and info.kind == LIST else set()
    children = info.children if info is not None else {}
    for child in elements(el):
        if child.tag in keys:
            continue
        hit, sub = _selected(sel, child, module_of)
        if not hit:
            el.remove(child)
        elif sub is not None:
            apply_fields(child, children.get(child.tag), sub, module_of)


# -- content and depth ------------------------------------------------------------------------


def apply_content(el: etree._Element, info: SNodeInfo | None, content: str) -> bool:
    """Trim `el`'s children for content=config|nonconfig; False if `el` itself
    should go (content=nonconfig and nothing below it is state)."""
    if content == "all" or info is None:
        return True
    if content == "config" and not info.config:
        return False
    if content == "nonconfig" and not info.config:
        return True
    keys = set(info.keys) if info.kind == LIST else set()
    kept = False
    for child in elements(el):
        if child.tag in keys:
            continue
        if apply_content(child, info.children.get(child.tag), content):
            kept = True
        else:
            el.remove(child)
    return content == "config" or kept


def apply_depth(el: etree._Element, info: SNodeInfo | None, depth: int, level: int = 1) -> None:
    """Remove what is deeper than `depth` below `el` (at `level`); keys stay."""
    keys = set(info.keys) if info is not None and info.kind == LIST else set()
    children = info.children if info is not None else {}
    for child in elements(el):
        if child.tag in keys:
            continue
        if level + 1 > depth:
            el.remove(child)
        else:
            apply_depth(child, children.get(child.tag), depth, level + 1)
