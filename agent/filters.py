"""RFC 6241 §6 subtree filtering and :xpath filtering of a <data> tree.

Both return a new tree that keeps ancestors and list keys of what matched, so
the reply stays valid instance data.
"""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from agent.errors import RpcError
from agent.schema_index import SNodeInfo
from agent.xmltree import elements, new_element, shallow_with_keys, text_of


def subtree(
    data: etree._Element, filt: etree._Element, index: dict[str, SNodeInfo], tag: str
) -> etree._Element:
    """What the subtree filter `filt` selects of data's children, under a new
    element `tag`; `data` itself is not modified."""
    out = new_element(tag)
    _select(data, _compile(filt), index, out)
    return out


class _FNode:
    """One filter node, read once per request instead of once per data node."""

    __slots__ = ("tag", "local", "text", "content", "others")

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

    def matches(self, d: etree._Element) -> bool:
        if self.tag is not None:
            return d.tag == self.tag
        t = d.tag
        return t.rsplit("}", 1)[-1] == self.local

    def content_ok(self, kids: list[etree._Element]) -> bool:
        """Every content match child of this node matches one of `kids`."""
        for f in self.content:
            for d in kids:
                if f.matches(d) and text_of(d) == f.text:
                    break
            else:
                return False
        return True


def _compile(filt: etree._Element) -> _FNode:
    root = _FNode(filt)
    root.text = ""
    return root


def _select(
    data: etree._Element, f: _FNode, schema: dict[str, SNodeInfo], out: etree._Element
) -> bool:
    """Copy into `out` what filter node `f` (matched to `data`) selects of data's
    children; False if it selects nothing, so `data` is left out of the reply."""
    kids = elements(data)
    if not f.content_ok(kids):
        return False  # a failed content match drops the whole sibling set
    present = {c.tag for c in out}  # a list entry's keys, copied already
    if not f.others:
        # Only content match nodes: the whole parent is selected (an empty
        # filter has none and selects nothing, RFC 6241 §6.4.2).
        if not f.content:
            return False
        for d in kids:
            if d.tag not in present:
                out.append(deepcopy(d))
        return True
    done: set[int] = set()
    for c in f.content:
        for d in kids:
            if id(d) not in done and c.matches(d) and text_of(d) == c.text:
                done.add(id(d))
                if d.tag not in present:
                    out.append(deepcopy(d))
    selected = bool(f.content)
    for c in f.others:
        for d in kids:
            if id(d) in done or not c.matches(d):
                continue
            if not c.content and not c.others:  # selection node
                done.add(id(d))
                if d.tag not in present:
                    out.append(deepcopy(d))
                selected = True
                continue
            if c.content and not c.content_ok(elements(d)):
                continue  # e.g. the other entries of a list filtered by key
            info = schema.get(d.tag)
            new = shallow_with_keys(d, info)
            if _select(d, c, info.children if info else {}, new):
                out.append(new)
                done.add(id(d))
                selected = True
    return selected


def xpath(
    data: etree._Element, filt: etree._Element, index: dict[str, SNodeInfo], tag: str
) -> etree._Element:
    select = filt.get("select")
    if not select:
        raise RpcError(
            "missing-attribute",
            "an xpath filter needs a select attribute",
            type="protocol",
            info=[("bad-attribute", "select"), ("bad-element", "filter")],
        )
    nsmap = {k: v for k, v in filt.nsmap.items() if k}
    try:
        compiled = etree.XPath(select, namespaces=nsmap)
    except etree.XPathError as e:
        raise RpcError(
            "invalid-value",
            f"invalid XPath expression {select!r}: {e}",
            type="protocol",
            info=[("bad-attribute", "select"), ("bad-element", "filter")],
        ) from None
    out = new_element(tag)
    copies: dict[int, etree._Element] = {}
    # An absolute path like /memif:memif starts at a top-level data node, and
    # XPath has one root per document: evaluate on each top-level node as a
    # document of its own.
    for top in elements(data):
        doc = deepcopy(top)
        try:
            found = compiled(doc)
        except etree.XPathError as e:
            raise RpcError(
                "invalid-value",
                f"cannot evaluate XPath expression {select!r}: {e}",
                type="protocol",
                info=[("bad-attribute", "select"), ("bad-element", "filter")],
            ) from None
        if not isinstance(found, list):
            continue  # a number, string or boolean selects no nodes
        for node in found:
            if not isinstance(node, etree._Element):
                node = getattr(node, "getparent", lambda: None)()
                if node is None:
                    continue
            _copy_with_ancestors(node, out, copies, index)
    return out


def _copy_with_ancestors(
    node: etree._Element,
    out: etree._Element,
    copies: dict[int, etree._Element],
    index: dict[str, SNodeInfo],
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
        existing = copies.get(id(n))
        if existing is None:
            if depth == len(chain) - 1:
                existing = deepcopy(n)
            else:
                existing = shallow_with_keys(n, info)
            parent_out.append(existing)
            copies[id(n)] = existing
        elif depth == len(chain) - 1:
            existing.getparent().replace(existing, deepcopy(n))
            copies[id(n)] = existing
        parent_out, schema = existing, (info.children if info else {})
