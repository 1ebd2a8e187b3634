"""RFC 6241 §6 subtree filtering and :xpath filtering of a <data> tree.

Both return a new tree that keeps ancestors and list keys of what matched, so
the reply stays valid instance data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from dataclasses import dataclass, field

from lxml import etree

from agent.errors import RpcError
from agent.yangdata import xpath_expr
from agent.yangdata.key_index import KeyIndex
from agent.yangdata.schema_index import LIST, SNodeInfo
from agent.yangdata.xmltree import elements, merge_into, new_element, shallow_with_keys, text_of


@dataclass(frozen=True)
class XPathRules:
    """What an :xpath filter may cost and the prefixes it may use without
    declaring them (module names and prefixes of the schema)."""

    budget: int = 2_000_000  # node visits (--xpath-budget)
    max_depth: int = 32  # nesting of location paths (--max-xpath-depth)
    prefixes: Mapping[str, str] = field(default_factory=dict)


DEFAULT_XPATH_RULES = XPathRules()

# Told of each node a filter selects whole (its copy in the reply, its schema
# node): RFC 8526 max-depth counts levels from these.
Selected = Callable[[etree._Element, "SNodeInfo | None"], None]


def subtree(
    data: etree._Element,
    filt: etree._Element,
    index: dict[str, SNodeInfo],
    tag: str,
    keys: KeyIndex | None = None,
    selected: Selected | None = None,
) -> etree._Element:
    """What the subtree filter `filt` selects of data's children, under a new
    element `tag`; `data` itself is not modified. `keys` (only for trees never
    changed in place) finds list entries a filter names by all their keys."""
    out = new_element(tag)
    _select(data, _compile(filt), index, out, keys, selected)
    return out


class _FNode:
    """One filter node, read once per filter instead of once per data node."""

    __slots__ = ("tag", "local", "text", "content", "others", "selection", "_key")

    def __init__(self, el: etree._Element) -> None:
        tag = el.tag
        # An unqualified filter node matches any namespace (RFC 6241 §6.2.1).
        self.tag = tag if tag[0] == "{" else None
        self.local = tag.rsplit("}", 1)[-1]
        kids = elements(el)
        self.text = text_of(el) if not kids else ""
        parts = [_FNode(c) for c in kids]
        self.content = [f for f in parts if f.text]  # content match nodes
        self.others = [f for f in parts if not f.text]  # containment and selection
        self.selection = not kids and not self.text
        # (info, key) of the last call: a compiled filter is reused across requests
        self._key: tuple[SNodeInfo | None, tuple[str, ...] | None] | None = None

    def key(self, info: SNodeInfo | None) -> tuple[str, ...] | None:
        """The entry key this node names, if its content matches give every key
        of list `info` exactly once."""
        if self._key is None or self._key[0] is not info:
            key = None
            if info is not None and info.kind == LIST and self.tag is not None:
                values = {}
                for f in self.content:
                    if f.tag in info.keys:
                        if values.setdefault(f.tag, f.text) != f.text:
                            break  # one key, two values: nothing matches; walk
                else:
                    if len(values) == len(info.keys):
                        key = tuple(values[k] for k in info.keys)
            self._key = (info, key)
        return self._key[1]

    def names(self, tag: str) -> bool:
        """Whether this node's name matches an element tag."""
        if self.tag is not None:
            return tag == self.tag
        return tag.rsplit("}", 1)[-1] == self.local

    def candidates(self, parent: etree._Element) -> Iterator[etree._Element]:
        """The children of `parent` this node's name matches."""
        if self.tag is not None:
            return parent.iterchildren(self.tag)  # filtered in C
        return (d for d in parent if isinstance(d.tag, str) and self.names(d.tag))

    def content_ok(self, parent: etree._Element) -> bool:
        """Every content match child of this node matches a child of `parent`."""
        for f in self.content:
            for d in f.candidates(parent):
                if text_of(d) == f.text:
                    break
            else:
                return False
        return True


# Filters are few and repeated (a poller asks the same question every time):
# compile each once. Keyed by the filter's bytes, so nothing else can alias;
# only small ones, so a client sending big distinct filters cannot fill memory.
_COMPILED: dict[bytes, _FNode] = {}
_COMPILED_MAX = 256
_COMPILED_MAX_BYTES = 4096


def top_level(filt: etree._Element) -> Callable[[str], bool]:
    """Whether the subtree filter `filt` may select a top-level node of this tag:
    lets <get> skip state providers whose data the filter would drop anyway."""
    root = _compile(filt)
    tops = root.content + root.others
    return lambda tag: any(t.names(tag) for t in tops)


def keyed(filt: etree._Element, index: dict[str, SNodeInfo]) -> bool:
    """Whether subtree filter `filt` selects only list entries it names by all
    their keys, under containment nodes: with a key index (`subtree`'s `keys`)
    its cost does not grow with the number of entries."""
    root = _compile(filt)
    return bool(root.others) and not root.content and all(_keyed(f, index) for f in root.others)


def _keyed(f: _FNode, schema: dict[str, SNodeInfo]) -> bool:
    info = schema.get(f.tag) if f.tag is not None else None
    if info is None:
        return False
    if info.kind == LIST:
        return f.key(info) is not None
    if f.selection or f.content or not f.others:
        return False  # all of a container, or a content match scanning its children
    return all(_keyed(c, info.children) for c in f.others)


def _small(filt: etree._Element) -> bool:
    """Whether the filter's text fits the cache's key size; stops reading at the
    bound, so a 28 MB filter is not serialized just to find it too big."""
    total = 0
    for el in filt.iter():
        total += len(el.tag) + len(el.text or "") + len(el.tail or "") + 8
        if total > _COMPILED_MAX_BYTES:
            return False
    return True


def _compile(filt: etree._Element) -> _FNode:
    if not _small(filt):
        root = _FNode(filt)
        root.text = ""
        root.selection = False
        return root
    key = etree.tostring(filt)
    root = _COMPILED.get(key)
    if root is None:
        root = _FNode(filt)
        root.text = ""
        root.selection = False
        if len(key) <= _COMPILED_MAX_BYTES:
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = root
    return root


def _select(
    data: etree._Element,
    f: _FNode,
    schema: dict[str, SNodeInfo],
    out: etree._Element,
    keys: KeyIndex | None,
    selected_hook: Selected | None = None,
) -> bool:
    """Copy into `out` what filter node `f` (matched to `data`) selects of data's
    children; False if it selects nothing, so `data` is left out of the reply."""
    if f.content and not f.content_ok(data):
        return False  # a failed content match drops the whole sibling set
    present = {c.tag for c in out} if len(out) else ()  # a list entry's keys
    if not f.others:
        # Only content match nodes: the whole parent is selected (an empty
        # filter has none and selects nothing, RFC 6241 §6.4.2).
        if not f.content:
            return False
        for d in data:
            if isinstance(d.tag, str) and d.tag not in present:
                out.append(deepcopy(d))
        return True
    # Elements, not id()s: proxies from iterchildren() die young and their ids
    # get reused; holding them keeps each node's proxy (and identity) alive.
    done: set[etree._Element] = set()
    # Data nodes selected in part, with their copy: a later filter sibling naming
    # the same node adds its selection to that copy (RFC 6241 §6.3: the sibling
    # set's result is the union of what each selects).
    partial: dict[etree._Element, etree._Element] = {}
    for c in f.content:
        for d in c.candidates(data):
            if text_of(d) == c.text and d not in done:
                done.add(d)
                if d.tag not in present:
                    out.append(deepcopy(d))
    selected = bool(f.content)
    for c in f.others:
        cands = c.candidates(data)
        if c.content and keys is not None:
            info = schema.get(c.tag) if c.tag is not None else None
            key = c.key(info)
            if key is not None:
                hit = keys.entries(data, info).get(key)  # type: ignore[arg-type]
                cands = () if hit is None else (hit,)
        for d in cands:
            if done and d in done:
                continue
            whole = c.selection or (c.content and not c.others)
            if c.content and not c.content_ok(d):
                continue  # e.g. the other entries of a list filtered by key
            if whole:  # a selection node, or content matches only: the whole node
                done.add(d)
                if d.tag not in present:
                    copy = deepcopy(d)
                    part = partial.pop(d, None)
                    if part is not None:
                        out.replace(part, copy)
                    else:
                        out.append(copy)
                    if selected_hook is not None:
                        selected_hook(copy, schema.get(d.tag))
                selected = True
                continue
            info = schema.get(d.tag)
            new = shallow_with_keys(d, info)
            if _select(d, c, info.children if info else {}, new, keys, selected_hook):
                part = partial.get(d)
                if part is None:
                    out.append(new)
                    partial[d] = new
                else:
                    merge_into(part, _without_keys(new, info), info.children if info else {})
                selected = True
    return selected


def _without_keys(el: etree._Element, info: SNodeInfo | None) -> etree._Element:
    """`el` minus its list keys (already in the copy it is merged into)."""
    if info is not None and info.kind == LIST:
        for k in info.keys:
            for kel in el.findall(k):
                el.remove(kel)
    return el


# A relative location path (a name test, ".", "*", an axis, "@"), not a function call.
_RELATIVE = re.compile(
    r"\s*(?:\.|\*|@|[a-z-]+::|[A-Za-z_][\w.-]*(?::(?:[A-Za-z_][\w.-]*|\*))?(?![\w.:-]|\s*\())"
)


def bad_select(message: str) -> RpcError:
    return RpcError(
        "invalid-value",
        message,
        type="protocol",
        info=[("bad-attribute", "select"), ("bad-element", "filter")],
    )


def _from_root(select: str) -> str | None:
    """`select` as evaluated with the datastore root as context node (RFC 6241
    §8.9.1), or None when it selects the root itself (the whole datastore).
    Each top-level node is evaluated as a document of its own, whose context
    node would otherwise be that node rather than the root above it."""
    s = select.strip()
    if s in ("/", ".", "/.", "self::node()", "/self::node()"):
        return None
    if not s.startswith("/") and _RELATIVE.match(s):
        return "/" + s
    return select


def xpath(
    data: etree._Element,
    filt: etree._Element,
    index: dict[str, SNodeInfo],
    tag: str,
    selected: Selected | None = None,
    rules: XPathRules = DEFAULT_XPATH_RULES,
) -> etree._Element:
    select = filt.get("select")
    if not select:
        raise RpcError(
            "missing-attribute",
            "an xpath filter needs a select attribute",
            type="protocol",
            info=[("bad-attribute", "select"), ("bad-element", "filter")],
        )
    rooted = _from_root(select)
    if rooted is None:
        out = new_element(tag)
        for top in elements(data):
            copy = deepcopy(top)
            out.append(copy)
            if selected is not None:
                selected(copy, index.get(top.tag))
        return out
    declared = {k: v for k, v in filt.nsmap.items() if k}
    try:
        tokens = xpath_expr.tokenize(rooted)
    except ValueError as e:
        raise bad_select(f"invalid XPath expression {select!r}: {e}") from None
    expr, nsmap = xpath_expr.qualify(
        rooted, tokens, declared, rules.prefixes, xpath_expr.node_names(index)
    )
    try:
        compiled = etree.XPath(expr, namespaces=nsmap)
    except etree.XPathError as e:
        raise bad_select(f"invalid XPath expression {select!r}: {e}") from None
    _check_cost(select, tokens, data, index, rules)
    out = new_element(tag)
    copies: dict[etree._Element, etree._Element] = {}  # held: see _select
    # An absolute path like /memif:memif starts at a top-level data node, and
    # XPath has one root per document: evaluate on each top-level node as a
    # document of its own.
    for top in elements(data):
        doc = deepcopy(top)
        try:
            found = compiled(doc)
        except etree.XPathError as e:
            raise bad_select(f"cannot evaluate XPath expression {select!r}: {e}") from None
        if not isinstance(found, list):
            continue  # a number, string or boolean selects no nodes
        for node in found:
            if not isinstance(node, etree._Element):
                node = getattr(node, "getparent", lambda: None)()
                if node is None:
                    continue
            _copy_with_ancestors(node, out, copies, index, selected)
    return out


def _check_cost(
    select: str,
    tokens: list[xpath_expr.Token],
    data: etree._Element,
    index: dict,
    rules: XPathRules,
) -> None:
    """Refuse an expression whose evaluation on `data` may cost more than the
    budget: lxml cannot stop an evaluation once it runs."""
    shape = xpath_expr.Shape.estimate(elements(data), index)
    try:
        bound = xpath_expr.cost(tokens, shape, rules.budget, rules.max_depth)
    except ValueError:
        bound = None  # not understood, so not bounded: refused like a costly one
    if bound is None:
        raise RpcError(
            "resource-denied",
            f"XPath filter {select[:200]!r} may cost more than {rules.budget} node visits"
            f" on the {shape.nodes} nodes it would run on (xpath-budget), or nests deeper"
            f" than {rules.max_depth} (max-xpath-depth); nested location paths in"
            " predicates multiply the cost",
            info=[("bad-attribute", "select"), ("bad-element", "filter")],
        )


def _copy_with_ancestors(
    node: etree._Element,
    out: etree._Element,
    copies: dict[etree._Element, etree._Element],
    index: dict[str, SNodeInfo],
    selected: Selected | None = None,
) -> None:
    chain = []
    n = node
    while n is not None:
        chain.append(n)
        n = n.getparent()
    chain.reverse()
    parent_out, schema = out, index
    for depth, n in enumerate(chain):
        info = schema.get(n.tag)
        existing = copies.get(n)
        last = depth == len(chain) - 1
        if existing is None:
            existing = deepcopy(n) if last else shallow_with_keys(n, info)
            parent_out.append(existing)
            copies[n] = existing
            if not last and info is not None and info.kind == LIST:
                # The entry's copy holds its keys already: a key selected later
                # (/memif/socket/id) must find that copy, not add a second one.
                for ktag in info.keys:
                    k, kc = n.find(ktag), existing.find(ktag)
                    if k is not None and kc is not None:
                        copies[k] = kc
        elif last:
            whole = deepcopy(n)
            existing.getparent().replace(existing, whole)
            existing = copies[n] = whole
        if last and selected is not None:
            selected(existing, info)
        parent_out, schema = existing, (info.children if info else {})
