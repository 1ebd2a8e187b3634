"""RFC 8526 NMDA operations (feature module): get-data and edit-data.

Datastores are named by ietf-datastores identities: running, candidate and
startup are the conventional ones of agent.datastore.store; operational is running
with the live state merged in (what <get> returns), as this agent applies
running as a whole. intended is not offered (it equals running here, and the
YANG library does not list it). Origin metadata: agent.yangdata.origin.
"""

from __future__ import annotations

from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.rpc.base_ops import (
    EDIT_DEFAULT_OPS,
    merged_state,
    readable,
    select_data,
    serialized,
    state_nodes,
    visible,
)
from agent.rpc.context import RpcContext
from agent.rpc.host import Host
from agent.rpc.monitoring import DATASTORES, DS_NS
from agent.yangdata import defaults, origin
from agent.yangdata.params import one_of, rpc_path, uint_param
from agent.yangdata.schema_index import LEAF, LEAFLIST, LIST, SNodeInfo
from agent.yangdata.xmltree import elements, text_of

NMDA_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
N = f"{{{NMDA_NS}}}"
_GET_PARAMS = frozenset(
    N + p
    for p in (
        "datastore",
        "subtree-filter",
        "xpath-filter",
        "config-filter",
        "max-depth",
        "with-defaults",
        "with-origin",
        "origin-filter",
        "negated-origin-filter",
    )
)
_EDIT_PARAMS = frozenset(N + p for p in ("datastore", "default-operation", "config", "url"))


def _path(op: etree._Element, name: str) -> str:
    return rpc_path(op, N + name)


def _param(op: etree._Element, name: str) -> etree._Element | None:
    return next(op.iterchildren(N + name), None)


def _check_params(op: etree._Element, allowed: frozenset[str]) -> None:
    for el in elements(op):
        if el.tag not in allowed:
            name = etree.QName(el).localname
            raise RpcError(
                "unknown-element",
                f"<{etree.QName(op).localname}> has no parameter <{name}>",
                type="protocol",
                path=rpc_path(op),
                info=[("bad-element", name)],
            )


def _datastore(op: etree._Element) -> str:
    el = _param(op, "datastore")
    if el is None:
        raise RpcError(
            "missing-element",
            f"<{etree.QName(op).localname}> needs a <datastore>",
            type="protocol",
            info=[("bad-element", "datastore")],
        )
    prefix, _, name = text_of(el).rpartition(":")
    if el.nsmap.get(prefix or None) != DS_NS or name not in DATASTORES:
        raise RpcError(
            "invalid-value",
            f"datastore '{text_of(el)}' is not one of "
            + ", ".join(f"ds:{d}" for d in DATASTORES)
            + f' (xmlns:ds="{DS_NS}")',
            path=_path(op, "datastore"),
        )
    return name


async def get_data(ctx: RpcContext, op: etree._Element):
    _check_params(op, _GET_PARAMS)
    name = _datastore(op)
    ds = ctx.server.datastores
    mode = _choice(op, "with-defaults", defaults.MODES, "explicit")
    subtree, xpath = _param(op, "subtree-filter"), _param(op, "xpath-filter")
    if subtree is not None and xpath is not None:
        raise RpcError(
            "invalid-value",
            "give a subtree-filter or an xpath-filter, not both",
            type="protocol",
            path=_path(op, "xpath-filter"),
        )
    kind, filt = None, None
    if subtree is not None:
        kind, filt = "subtree", subtree
    elif xpath is not None:
        expr = text_of(xpath)
        if not expr:
            raise RpcError("invalid-value", "xpath-filter is empty", path=_path(op, "xpath-filter"))
        # filters.xpath reads an RFC 6241 filter: the expression and its prefixes.
        filt = etree.Element("filter", nsmap={k: v for k, v in xpath.nsmap.items() if k})
        filt.set("select", expr)
        kind = "xpath"
    with_origin, origin_filter = _origin_params(op, name)
    depth = _max_depth(op)
    cf = _choice(op, "config-filter", ("true", "false"), "")
    running = ds.running  # never changed in place: a snapshot
    if name == "operational":
        source, state = running, await state_nodes(ctx, subtree)
    else:
        source, state = ds.tree(name), None
    args = (ctx, name, source, state, running, mode, kind, filt, with_origin, origin_filter)
    worker = ds.worker_for(source, state)
    if worker is not None:  # a big datastore: selected and serialised off the loop
        return await worker.run(serialized, _selected, *args, depth, cf)
    return _selected(*args, depth, cf)


def _selected(
    ctx: RpcContext,
    name: str,
    source: etree._Element,
    state: etree._Element | None,
    running: etree._Element,
    mode: str,
    kind: str | None,
    filt: etree._Element | None,
    with_origin: bool,
    origin_filter: tuple[frozenset[str], bool] | None,
    depth: int | None,
    cf: str,
) -> etree._Element:
    """get-data's reply from datastore tree `source` (with `state` merged in for
    ds:operational); reads nothing that changes: it may run in the worker."""
    ds = ctx.server.datastores
    if state is not None:
        tree = visible(ctx, merged_state(ds, source, state), owned=True)
        keys = None
    else:
        tree = visible(ctx, source)  # never changed in place, like ds.tree
        keys = ds.keys
    chosen: list[tuple[etree._Element, SNodeInfo | None]] = []
    hook = None if depth is None else lambda el, info: chosen.append((el, info))
    # Origins tell an added default from a configured leaf by its wd:default tag.
    tagged = with_origin or origin_filter is not None
    internal = "report-all-tagged" if tagged and mode == "report-all" else mode
    data = select_data(ds, tree, internal, N + "data", kind, filt, keys, hook)
    if cf:
        _config_filter(data, ds.index, cf == "true")
    if tagged:
        origins = origin.compute(data, running, ds.index)
        if origin_filter is not None:
            origin.keep_only(data, origins, *origin_filter, ds.index)
        if with_origin:
            data = origin.annotate(data, origins)
        # wd tags: removed if only the origins needed them, else declared once
        # more on the <data> that annotate() made.
        data = defaults.tidy(data, keep=mode == "report-all-tagged")
    if depth is not None:
        # RFC 8526: levels count from each selected node, once the filters are applied.
        for el, info in chosen:
            _prune_depth(el, info, depth - 1)
    return readable(ctx, data)


def _origin_params(
    op: etree._Element, datastore: str
) -> tuple[bool, tuple[frozenset[str], bool] | None]:
    """with-origin, and the origin filter as (identities, negated) or None."""
    with_origin = _param(op, "with-origin") is not None
    plain = list(op.iterchildren(N + "origin-filter"))
    negated = list(op.iterchildren(N + "negated-origin-filter"))
    if plain and negated:
        raise RpcError(
            "invalid-value",
            "give origin-filter or negated-origin-filter, not both",
            type="protocol",
            path=_path(op, "negated-origin-filter"),
        )
    for pname, present in (("with-origin", with_origin), ("origin-filter", plain or negated)):
        if present and datastore != "operational":
            raise RpcError(
                "invalid-value",
                f"{pname} is only valid for datastore ds:operational, not ds:{datastore}",
                path=_path(op, pname),
            )
    if with_origin and text_of(_param(op, "with-origin")):
        raise RpcError("invalid-value", "with-origin takes no value", path=_path(op, "with-origin"))
    els = plain or negated
    if not els:
        return with_origin, None
    pname = "origin-filter" if plain else "negated-origin-filter"
    return with_origin, (frozenset(_identity(el, _path(op, pname)) for el in els), bool(negated))


def _identity(el: etree._Element, path: str) -> str:
    prefix, _, name = text_of(el).rpartition(":")
    if el.nsmap.get(prefix or None) != origin.OR_NS or name not in origin.IDENTITIES:
        raise RpcError(
            "invalid-value",
            f"'{text_of(el)}' is not an ietf-origin identity ("
            + ", ".join(f"or:{i}" for i in origin.IDENTITIES)
            + f', xmlns:or="{origin.OR_NS}")',
            path=path,
        )
    return name


def _choice(op: etree._Element, name: str, allowed: tuple[str, ...], default: str) -> str:
    return one_of(_param(op, name), name, allowed, default, _path(op, name))


def _max_depth(op: etree._Element) -> int | None:
    el = _param(op, "max-depth")
    if el is None or text_of(el) == "unbounded":
        return None
    return uint_param(
        el, "max-depth", 1, 65535, _path(op, "max-depth"), "unbounded or a number from 1 to 65535"
    )


def _config_filter(
    parent: etree._Element,
    schema: dict[str, SNodeInfo],
    config: bool,
    keys: tuple[str, ...] = (),
) -> None:
    """Keep only config true nodes (config=True), or only config false nodes and
    what leads to them, list keys included (config=False)."""
    for el in elements(parent):
        info = schema.get(el.tag)
        if info is None or el.tag in keys:
            continue
        if not info.config:
            if config:
                parent.remove(el)  # state, and configuration was asked for
        elif config:
            _config_filter(el, info.children, config)
        elif info.kind in (LEAF, LEAFLIST):
            parent.remove(el)  # configuration, and state was asked for
        else:
            sub_keys = info.keys if info.kind == LIST else ()
            _config_filter(el, info.children, config, sub_keys)
            if len(el) == len(sub_keys):  # nothing but keys left
                parent.remove(el)


def _prune_depth(el: etree._Element, info: SNodeInfo | None, left: int) -> None:
    """Drop what lies more than `left` levels below `el`; list keys stay."""
    keys = info.keys if info is not None and info.kind == LIST else ()
    children = info.children if info is not None else {}
    for child in elements(el):
        if child.tag in keys:
            continue
        if left <= 0:
            el.remove(child)
        else:
            _prune_depth(child, children.get(child.tag), left - 1)


async def edit_data(ctx: RpcContext, op: etree._Element) -> None:
    _check_params(op, _EDIT_PARAMS)
    name = _datastore(op)
    if name not in ("running", "candidate"):
        raise RpcError(
            "invalid-value",
            f"edit-data: datastore {name} cannot be edited (running or candidate)",
            path=_path(op, "datastore"),
        )
    config = _param(op, "config")
    if config is None:
        if _param(op, "url") is not None:
            raise RpcError(
                "operation-not-supported", "the :url capability is not supported", type="protocol"
            )
        raise RpcError(
            "missing-element",
            "<edit-data> needs a <config>",
            type="protocol",
            info=[("bad-element", "config")],
        )
    default_operation = _choice(op, "default-operation", EDIT_DEFAULT_OPS, "merge")
    errors = await ctx.server.datastores.edit(
        name, config, ctx.session_id, default_operation=default_operation
    )
    if errors:
        raise RpcErrors(errors)


def register(server: Host) -> None:
    """Needs the datastores (agent.rpc.base_ops)."""
    server.register_rpc(NMDA_NS, "get-data", get_data)
    server.register_rpc(NMDA_NS, "edit-data", edit_data)
