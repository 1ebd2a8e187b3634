"""Schema facts the XML engines need (node kind, list keys, config), keyed by
lxml tag ("{namespace}name") so lookups cost one dict access per element.

Built once per libyang context from the compiled schema; choices and cases are
already flattened by lys_getnext().
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import libyang
from _libyang import lib  # the binding's cffi module

CONTAINER, LIST, LEAF, LEAFLIST = "container", "list", "leaf", "leaf-list"
_KINDS = {
    lib.LYS_CONTAINER: CONTAINER,
    lib.LYS_LIST: LIST,
    lib.LYS_LEAF: LEAF,
    lib.LYS_LEAFLIST: LEAFLIST,
}


@dataclass
class SNodeInfo:
    tag: str
    kind: str
    config: bool
    keys: tuple[str, ...] = ()  # tags of the key leaves, in key order
    default: str | None = None
    user_ordered: bool = False
    presence: bool = False  # containers: a presence container means something by existing
    children: dict[str, SNodeInfo] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.tag.split("}", 1)[1]


def _ns(snode: libyang.SNode) -> str:
    from libyang.util import c2str

    return c2str(snode.cdata.module.ns)


def _info(snode: libyang.SNode) -> SNodeInfo | None:
    kind = _KINDS.get(snode.nodetype())
    if kind is None:
        return None
    tag = f"{{{_ns(snode)}}}{snode.name()}"
    info = SNodeInfo(tag, kind, not snode.config_false())
    if kind == LIST:
        info.keys = tuple(f"{{{_ns(k)}}}{k.name()}" for k in snode.keys())
        info.user_ordered = snode.ordered()
    elif kind == LEAF:
        d = snode.cdata
        from _libyang import ffi

        leaf = ffi.cast("struct lysc_node_leaf *", d)
        if leaf.dflt != ffi.NULL:
            info.default = (
                str(snode.default()).lower()
                if isinstance(snode.default(), bool)
                else (str(snode.default()))
            )
    elif kind == LEAFLIST:
        info.user_ordered = snode.ordered()
    elif kind == CONTAINER:
        info.presence = snode.presence() is not None
    if kind in (CONTAINER, LIST):
        for child in snode.children(types=tuple(_KINDS)):
            ci = _info(child)
            if ci is not None:
                info.children[ci.tag] = ci
    return info


@cache
def index_for(ctx: libyang.Context) -> dict[str, SNodeInfo]:
    """Top-level data nodes of every implemented module, by tag."""
    roots: dict[str, SNodeInfo] = {}
    for mod in ctx:
        if not mod.implemented():
            continue
        for snode in mod.children(types=tuple(_KINDS)):
            info = _info(snode)
            if info is not None:
                roots[info.tag] = info
    return roots


def module_namespaces(ctx: libyang.Context) -> set[str]:
    from libyang.util import c2str

    return {c2str(m.cdata.ns) for m in ctx}
