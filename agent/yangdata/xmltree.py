"""Small lxml helpers shared by the edit, filter and merge engines."""

from __future__ import annotations

from lxml import etree

from agent.yangdata.schema_index import LEAF, LEAFLIST, LIST, SNodeInfo

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NC = f"{{{NC_NS}}}"


def elements(parent: etree._Element) -> list[etree._Element]:
    return [c for c in parent if isinstance(c.tag, str)]


def text_of(el: etree._Element) -> str:
    return (el.text or "").strip()


def key_values(el: etree._Element, info: SNodeInfo) -> tuple[str, ...] | None:
    """A list entry's key values in key order, or None if a key leaf is missing."""
    if len(info.keys) == 1:
        k = el.find(info.keys[0])
        return None if k is None else ((k.text or "").strip(),)
    found = {c.tag: c.text for c in el if c.tag in info.keys}
    if len(found) != len(info.keys):
        return None
    return tuple((found[k] or "").strip() for k in info.keys)


def entries_by_key(
    parent: etree._Element, info: SNodeInfo
) -> dict[tuple[str, ...] | None, etree._Element]:
    """The entries of list `info` under `parent` by key values, in one pass; the
    first of two with one key wins, as find_match would find it."""
    out: dict[tuple[str, ...] | None, etree._Element] = {}
    for e in parent.iterchildren(info.tag):
        out.setdefault(key_values(e, info), e)
    return out


def find_match(
    parent: etree._Element, el: etree._Element, info: SNodeInfo | None
) -> etree._Element | None:
    """The node in `parent` that `el` addresses: same tag, and for lists the same
    keys, for leaf-lists the same value."""
    if info is not None and info.kind == LIST:
        want = key_values(el, info)
        for cand in parent.iterchildren(el.tag):
            if key_values(cand, info) == want:
                return cand
        return None
    if info is not None and info.kind == LEAFLIST:
        want_text = text_of(el)
        for cand in parent.iterchildren(el.tag):
            if text_of(cand) == want_text:
                return cand
        return None
    return parent.find(el.tag)


def with_nsmap(el: etree._Element, nsmap: dict) -> etree._Element:
    """`el` again with namespace declarations `nsmap` (lxml cannot change an
    element's own): a new element taking over its text and children."""
    out = etree.Element(el.tag, nsmap=nsmap)
    out.text = el.text
    out.extend(list(el))
    return out


def new_element(tag: str, parent: etree._Element | None = None) -> etree._Element:
    """An element whose namespace is the default one, so replies read
    <memif xmlns="..."><socket>... rather than ns0: prefixes everywhere."""
    if tag[0] == "{":
        end = tag.index("}")
        ns: str | None = tag[1:end]
        prefix = tag[: end + 1]
    else:
        ns, prefix = None, ""
    if parent is not None:
        # Same namespace as the parent: lxml reuses the parent's declaration
        # (reading parent.nsmap would build a dict every time).
        if ns is None or parent.tag.startswith(prefix):
            return etree.SubElement(parent, tag)
        return etree.SubElement(parent, tag, nsmap={None: ns})
    return etree.Element(tag, nsmap={None: ns})


def shallow_with_keys(el: etree._Element, info: SNodeInfo | None) -> etree._Element:
    """A copy of `el` without children, except a list entry's key leaves."""
    new = new_element(el.tag)
    if info is not None and info.kind == LIST:
        for ktag in info.keys:
            for k in el.iterchildren(ktag):
                new_element(ktag, new).text = (k.text or "").strip()
                break
    return new


def merge_into(
    target: etree._Element,
    src: etree._Element,
    index: dict[str, SNodeInfo],
    skip: tuple[str, ...] = (),
) -> None:
    """Merge src's children into target by schema identity (list keys); used to
    join state data from providers with configuration for <get>. `skip`: tags
    of src's children to leave out (a matched entry's keys, equal by the match)."""
    # Per list: one pass over target's entries, not one per state entry (1,000
    # interfaces of state would otherwise cost 10^6 key reads).
    lists: dict[str, dict] = {}
    for child in elements(src):
        tag = child.tag
        if tag in skip:
            continue
        info = index.get(tag)
        if info is None:
            match = next(target.iterchildren(tag), None)
        elif info.kind == LIST:
            entries = lists.get(tag)
            if entries is None:
                entries = lists[tag] = entries_by_key(target, info)
            keys = key_values(child, info)
            match = entries.get(keys)
            if match is None:
                entries[keys] = child
            else:
                merge_into(match, child, info.children, info.keys)
                continue
        elif info.kind == LEAFLIST:
            match = find_match(target, child, info)
        else:
            # A container or leaf: iterchildren filters in C, find() would go
            # through ElementPath.
            match = next(target.iterchildren(tag), None)
        if match is None:
            target.append(child)
        elif info is None or info.kind not in (LEAF, LEAFLIST):
            merge_into(match, child, info.children if info else {})
        else:
            match.text = child.text
