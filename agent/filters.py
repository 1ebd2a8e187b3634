"""RFC 6241 §6 subtree filtering and :xpath filtering of a <data> tree.

Both return a new tree that keeps ancestors and list keys of what matched, so
the reply stays valid instance data.
"""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from agent.errors import RpcError
from agent.schema_index import LIST, SNodeInfo
from agent.xmltree import elements, new_element, shallow_with_keys, text_of


def subtree(
    data: etree._Element, filt: etree._Element, index: dict[str, SNodeInfo]
) -> etree._Element:
    out = new_element(data.tag)
    _select_children(data, elements(filt), index, out)
    return out


def _matches(d: etree._Element, f: etree._Element) -> bool:
    fq, dq = etree.QName(f), etree.QName(d)
    # An unqualified filter node matches any namespace (RFC 6241 §6.2.1).
    return fq.localname == dq.localname and (not fq.namespace or fq.namespace == dq.namespace)


def _select_children(
    data: etree._Element,
    fnodes: list[etree._Element],
    schema: dict[str, SNodeInfo],
    out: etree._Element,
) -> None:
    content = [f for f in fnodes if len(f) == 0 and text_of(f)]
    others = [f for f in fnodes if f not in content]
    for f in content:
        if not any(_matches(d, f) and text_of(d) == text_of(f) for d in elements(data)):
            return  # a failed content match drops the whole sibling set
    if not others:
        # Only content match nodes: the whole parent is selected.
        for d in elements(data):
            if d.tag not in {c.tag for c in out}:
                out.append(deepcopy(d))
        return
    done: set[int] = set()
    for f in content:
        for d in elements(data):
            if _matches(d, f) and text_of(d) == text_of(f) and id(d) not in done:
                out.append(deepcopy(d))
                done.add(id(d))
    for f in others:
        for d in elements(data):
            if id(d) in done or not _matches(d, f):
                continue
            info = schema.get(d.tag)
            if len(f) == 0:  # selection node
                out.append(deepcopy(d))
                done.add(id(d))
                continue
            child_schema = info.children if info else {}
            new = shallow_with_keys(d, info)
            nkeys = len(new)
            _select_children(d, elements(f), child_schema, new)
            if len(new) > nkeys or (info is not None and info.kind != LIST and len(new)):
                out.append(new)
                done.add(id(d))


def xpath(
    data: etree._Element, filt: etree._Element, index: dict[str, SNodeInfo]
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
    out = new_element(data.tag)
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
