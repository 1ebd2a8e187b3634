"""RPC parameters checked against the YANG `input` of their operation before
any handler runs (RFC 6241 App. A): an element or attribute the operation does
not define is unknown-element / unknown-attribute, never silently ignored. A
misspelled <test-optoin>test-only</test-optoin> would otherwise turn a dry run
into a live change, and a misspelled <fliter> return the whole datastore.

Only the parameter levels are checked here (operation element, its parameters,
containers such as <target>); what anyxml/anydata parameters hold (<config>,
<filter>) belongs to the edit engine and the filters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libyang
from lxml import etree

from agent.errors import NC_NS, RpcError
from agent.rpc.context import RpcContext
from agent.rpc.host import Host
from agent.yangdata.params import rpc_path
from agent.yangdata.schema_index import module_namespaces

_TYPES = (
    libyang.SNode.CONTAINER,
    libyang.SNode.LEAF,
    libyang.SNode.LEAFLIST,
    libyang.SNode.LIST,
    libyang.SNode.ANYXML,
    libyang.SNode.ANYDATA,
)
_ANY = ("anyxml", "anydata")
# Attributes RFC 6241 defines on parameters: <filter type= select=>, which may be
# unqualified or in the base namespace.
_ATTRS = {"filter": frozenset({"type", "select", f"{{{NC_NS}}}type", f"{{{NC_NS}}}select"})}
NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
# RFC 5277 create-subscription: its module is not in the libyang context.
_CREATE_SUBSCRIPTION = ("stream", "filter", "startTime", "stopTime")


@dataclass
class Param:
    tag: str
    name: str
    kind: str  # container, leaf, leaf-list, list, anyxml, anydata
    children: dict[str, Param] = field(default_factory=dict)


def _ns(snode: Any) -> str:
    from libyang.util import c2str

    return c2str(snode.cdata.module.ns)


def _params(parent: Any) -> dict[str, Param]:
    out: dict[str, Param] = {}
    for snode in parent.children(types=_TYPES):
        p = Param(f"{{{_ns(snode)}}}{snode.name()}", snode.name(), snode.keyword())
        if p.kind in ("container", "list"):
            p.children = _params(snode)
        out[p.tag] = p
    return out


def input_schema(ctx: libyang.Context) -> dict[str, dict[str, Param]]:
    """Operation tag -> its parameters by tag, for every RPC of the context's
    implemented modules (features applied: <url> is absent without :url)."""
    ops: dict[str, dict[str, Param]] = {}
    for mod in ctx:
        if not mod.implemented():
            continue
        for rpc in mod.children(types=(libyang.SNode.RPC,)):
            ops[f"{{{_ns(rpc)}}}{rpc.name()}"] = _params(rpc.input())
    sub = ops[f"{{{NOTIF_NS}}}create-subscription"] = {
        f"{{{NOTIF_NS}}}{n}": Param(f"{{{NOTIF_NS}}}{n}", n, "anyxml" if n == "filter" else "leaf")
        for n in _CREATE_SUBSCRIPTION
    }
    # Clients (ncclient) send its <filter> in the base namespace, as get's.
    sub[f"{{{NC_NS}}}filter"] = Param(f"{{{NC_NS}}}filter", "filter", "anyxml")
    return ops


class InputCheck:
    """The rpc hook: refuses parameters the operation does not define."""

    def __init__(
        self,
        schema: dict[str, dict[str, Param]],
        tolerated: frozenset[str],
        namespaces: frozenset[str],
    ) -> None:
        self.schema = schema
        self.namespaces = namespaces  # of every module: others are unknown-namespace
        # Parameters a handler answers itself with a better error (<url>:
        # operation-not-supported, not unknown-element).
        self.tolerated = tolerated

    def __call__(self, ctx: RpcContext, op: etree._Element) -> None:
        params = self.schema.get(op.tag)
        if params is None:
            return  # not an operation of a YANG module: its handler checks it
        self._attrs(op, "", op, ())
        self._level(op, params, op, ())

    def _level(
        self, el: etree._Element, params: dict[str, Param], op: etree._Element, where: tuple
    ) -> None:
        for child in el:
            if not isinstance(child.tag, str):
                continue  # comments, processing instructions
            p = params.get(child.tag)
            if p is None:
                q = etree.QName(child)
                # Some clients leave parameters unqualified: the name alone then.
                if not q.namespace:
                    p = next((v for v in params.values() if v.name == q.localname), None)
                if p is None:
                    if child.tag in self.tolerated:
                        continue
                    raise _unknown_element(child, op, where, self.namespaces)
            here = (*where, p.tag)
            self._attrs(child, p.name, op, here)
            if p.kind in _ANY:
                continue
            if p.kind in ("container", "list"):
                self._level(child, p.children, op, here)
                continue
            for inner in child:
                if isinstance(inner.tag, str):
                    raise _unknown_element(inner, op, here, self.namespaces)

    def _attrs(self, el: etree._Element, name: str, op: etree._Element, where: tuple) -> None:
        allowed = _ATTRS.get(name, frozenset())
        for attr in el.attrib:
            if attr in allowed:
                continue
            q = etree.QName(attr)
            raise RpcError(
                "unknown-attribute",
                f"attribute '{q.localname}'"
                + (f" ({q.namespace})" if q.namespace else "")
                + f" is not defined on <{etree.QName(el).localname}>",
                type="protocol",
                path=rpc_path(op, *where),
                info=[("bad-attribute", q.localname), ("bad-element", etree.QName(el).localname)],
            )


def _unknown_element(
    el: etree._Element, op: etree._Element, where: tuple, known_ns: frozenset[str]
) -> RpcError:
    q = etree.QName(el)
    if q.namespace and q.namespace not in known_ns:
        return RpcError(
            "unknown-namespace",
            f"<{q.localname}> is in namespace {q.namespace}, which no module of this "
            "server defines",
            type="protocol",
            path=rpc_path(op, *where),
            info=[("bad-element", q.localname), ("bad-namespace", q.namespace)],
        )
    return RpcError(
        "unknown-element",
        f"<{q.localname}>"
        + (f" ({q.namespace})" if q.namespace else "")
        + f" is not a parameter of <{etree.QName(op).localname}>"
        + (f" {'/'.join(etree.QName(t).localname for t in where)}" if where else ""),
        type="protocol",
        path=rpc_path(op, *where),
        info=[("bad-element", q.localname)],
    )


def register(server: Host) -> None:
    url = frozenset({f"{{{NC_NS}}}url", "{urn:ietf:params:xml:ns:yang:ietf-netconf-nmda}url"})
    known = frozenset(module_namespaces(server.schema)) | {NOTIF_NS}
    server.add_rpc_hook(InputCheck(input_schema(server.schema), url, known))
