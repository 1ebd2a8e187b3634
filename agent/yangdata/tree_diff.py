"""What changed between two configuration trees, node by node, matched by
schema identity (list keys, leaf-list values). NACM checks each change a write
makes; RFC 6470 netconf-config-change reports them."""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from agent.yangdata.schema_index import LEAFLIST, LIST, SNodeInfo
from agent.yangdata.xmltree import elements, key_values, text_of

# (op, module, name path, keys per step, XPath with module names as prefixes)
Change = tuple[str, str, tuple[str, ...], tuple, str]
Narrow = dict[str, tuple[list[etree._Element], list[etree._Element]]]


def changes(
    old: etree._Element,
    new: etree._Element,
    index: dict[str, SNodeInfo],
    modules: dict[str, str],
    inside_created: bool = True,
    narrow: Narrow | None = None,
) -> Iterator[Change]:
    """Every node created, deleted or updated (a leaf's value); op is "create",
    "delete" or "update". A created node's descendants are reported too unless
    `inside_created` is False; a deleted node's never are. `narrow` maps the tag
    of a container present in both trees to the only children of it (old ones,
    new ones) that may differ: the rest are not compared."""
    yield from _diff(old, new, index, modules, (), (), "", inside_created, narrow or {})


def step_keys(el: etree._Element, info: SNodeInfo | None) -> tuple[tuple[str, str], ...]:
    """What a rule's predicates may test on this node: a list entry's keys, a
    leaf-list entry's value as ".", nothing for other nodes."""
    if info is None:
        return ()
    if info.kind == LIST:
        values = key_values(el, info) or ()
        return tuple(zip((k.split("}", 1)[1] for k in info.keys), values, strict=False))
    if info.kind == LEAFLIST:
        return ((".", text_of(el)),)
    return ()


def path_step(module: str, name: str, keys: tuple[tuple[str, str], ...]) -> str:
    """One step of a path as this agent writes paths (module names as prefixes):
    /m:name, with [m:key='v'] per list key or [.='v'] for a leaf-list entry
    (`keys` as step_keys gives them)."""
    preds = "".join(
        f"[.={quote(v)}]" if k == "." else f"[{module}:{k}={quote(v)}]" for k, v in keys
    )
    return f"/{module}:{name}{preds}"


def quote(value: str) -> str:
    """An XPath string literal for `value` (XPath 1.0 has no escapes: pick the
    quote it does not contain)."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def _identity(el: etree._Element, info: SNodeInfo | None) -> tuple:
    if info is not None and info.kind == LIST:
        return (el.tag, key_values(el, info))
    if info is not None and info.kind == LEAFLIST:
        return (el.tag, text_of(el))
    return (el.tag,)


def _unmatched(old, new, narrow: Narrow) -> tuple[list, list]:
    """Children of old and of new without a byte-identical twin on the other side:
    an entry serialised the same (keys included) is unchanged, and serialising in
    C costs far less than reading keys and walking leaves in Python. Containers
    `narrow` knows are never serialised whole: their changes are known."""
    if old is None or new is None:
        return (elements(old) if old is not None else []), (
            elements(new) if new is not None else []
        )
    if old.tag in narrow and new.tag == old.tag:
        return narrow[old.tag]

    def key(c: etree._Element) -> object:
        return c.tag if c.tag in narrow else etree.tostring(c, with_tail=False)

    before = {key(c): c for c in elements(old)}
    after = {key(c): c for c in elements(new)}
    return (
        [c for b, c in before.items() if b not in after or b in narrow],
        [c for b, c in after.items() if b not in before or b in narrow],
    )


def _diff(old, new, schema, modules, path, keys, xpath, inside_created, narrow):
    left_old, left_new = _unmatched(old, new, narrow)
    before = {_identity(c, schema.get(c.tag)): c for c in left_old}
    after = {_identity(c, schema.get(c.tag)): c for c in left_new}
    for key in {**before, **after}:
        o, n = before.get(key), after.get(key)
        if o is not None and n is not None and len(n) == 0 and len(o) == 0:
            if text_of(n) == text_of(o):
                continue  # same value, written differently (namespace declarations)
        el = n if n is not None else o
        q = etree.QName(el)
        module = modules.get(q.namespace or "", "")
        info = schema.get(el.tag)
        npath = (*path, q.localname)
        here = step_keys(el, info)
        nkeys = (*keys, here)
        step = xpath + path_step(module, q.localname, here)
        children = info.children if info is not None else {}
        if o is None:
            yield ("create", module, npath, nkeys, step)
            if inside_created:
                yield from _diff(None, n, children, modules, npath, nkeys, step, True, narrow)
        elif n is None:
            yield ("delete", module, npath, nkeys, step)
        elif len(n) == 0 and len(o) == 0:
            yield ("update", module, npath, nkeys, step)
        else:
            yield from _diff(o, n, children, modules, npath, nkeys, step, inside_created, narrow)
