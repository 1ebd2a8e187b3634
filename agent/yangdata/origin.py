"""RFC 8342 origin metadata for the operational datastore (RFC 8526 with-origin,
origin-filter, negated-origin-filter).

This agent applies running as a whole, so a configuration node of operational
that running holds is "intended". One that running does not hold came from the
agent itself ("system": the built-in socket 0, the ietf-interfaces entries it
derives from memif interfaces), or is a default in use ("default": a leaf that
with-defaults added, or a non-presence container holding only such leaves).
State nodes have no origin and origin filters leave them alone.
"""

from __future__ import annotations

from lxml import etree

from agent.yangdata.defaults import WD_ATTR
from agent.yangdata.schema_index import CONTAINER, LEAF, LEAFLIST, LIST, SNodeInfo
from agent.yangdata.xmltree import elements, entries_by_key, find_match, key_values, with_nsmap

OR_NS = "urn:ietf:params:xml:ns:yang:ietf-origin"
ATTR = f"{{{OR_NS}}}origin"
# ietf-origin's identities; all but "origin" derive from "origin" directly.
IDENTITIES = ("origin", "intended", "dynamic", "system", "learned", "default", "unknown")

Origins = dict[etree._Element, str]


def derived_from(origin: str, bases: frozenset[str]) -> bool:
    """Whether identity `origin` is one of `bases` or derived from one of them."""
    return origin in bases or "origin" in bases


def compute(data: etree._Element, running: etree._Element, index: dict[str, SNodeInfo]) -> Origins:
    """The origin of every configuration node under `data` (a <data> wrapper),
    found by walking running beside it. Leaves that with-defaults added must carry
    its wd:default tag (ask for report-all-tagged) so they can be told apart."""
    out: Origins = {}
    _children(data, running, index, (), out)
    return out


def _children(
    el: etree._Element,
    run: etree._Element | None,
    schema: dict[str, SNodeInfo],
    keys: tuple[str, ...],
    out: Origins,
) -> list[str]:
    found: list[str] = []
    lists: dict[str, dict] = {}
    for child in elements(el):
        info = schema.get(child.tag)
        if info is None or not info.config:
            continue
        match = None if run is None else _match(run, child, info, lists)
        origin = _node(child, match, info, out)
        if child.tag not in keys:
            found.append(origin)
    return found


def _match(
    run: etree._Element, el: etree._Element, info: SNodeInfo, lists: dict[str, dict]
) -> etree._Element | None:
    if info.kind != LIST:
        return find_match(run, el, info)
    # Lists by one keyed map per list: find_match would scan 1,000 siblings per entry.
    entries = lists.get(info.tag)
    if entries is None:
        entries = lists[info.tag] = entries_by_key(run, info)
    return entries.get(key_values(el, info))


def _node(el: etree._Element, run: etree._Element | None, info: SNodeInfo, out: Origins) -> str:
    if info.kind in (LEAF, LEAFLIST):
        if run is not None:
            origin = "intended"
        else:
            origin = "default" if el.get(WD_ATTR) == "true" else "system"
    else:
        below = _children(el, run, info.children, info.keys if info.kind == LIST else (), out)
        if run is not None:
            origin = "intended"
        elif (
            info.kind == CONTAINER
            and not info.presence
            and below
            and all(o == "default" for o in below)
        ):
            origin = "default"
        else:
            origin = "system"
    out[el] = origin
    return origin


def annotate(data: etree._Element, origins: Origins) -> etree._Element:
    """`data` rebuilt with the or prefix declared on it and or:origin set on each
    top-level configuration node and wherever a node's origin differs from its
    parent's (the annotation is inherited in XML)."""
    out = with_nsmap(data, {**data.nsmap, "or": OR_NS})
    _annotate(out, None, origins)
    return out


def _annotate(el: etree._Element, inherited: str | None, origins: Origins) -> None:
    for child in elements(el):
        origin = origins.get(child)
        if origin is None:
            continue  # state: no origin of its own, none below it either
        if origin != inherited:
            child.set(ATTR, f"or:{origin}")
        _annotate(child, origin, origins)


def keep_only(
    data: etree._Element,
    origins: Origins,
    bases: frozenset[str],
    negated: bool,
    index: dict[str, SNodeInfo],
) -> None:
    """Drop configuration nodes whose origin does (negated) or does not match
    `bases`; a node stays if it matches or anything below it stays, with its
    list keys. State nodes always stay."""
    _keep(data, origins, bases, negated, index, ())


def _keep(
    el: etree._Element,
    origins: Origins,
    bases: frozenset[str],
    negated: bool,
    schema: dict[str, SNodeInfo],
    keys: tuple[str, ...],
) -> bool:
    kept = False
    for child in elements(el):
        origin = origins.get(child)
        if child.tag in keys:
            continue
        if origin is None:  # state, or a node outside the schema
            kept = True
            continue
        info = schema.get(child.tag)
        sub = info.children if info is not None else {}
        sub_keys = info.keys if info is not None and info.kind == LIST else ()
        below = _keep(child, origins, bases, negated, sub, sub_keys)
        if below or derived_from(origin, bases) != negated:
            kept = True
        else:
            el.remove(child)
    return kept
