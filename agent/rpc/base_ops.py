"""RFC 6241 configuration operations over agent.datastore.store (feature module).

get, get-config, edit-config, copy-config, delete-config, lock, unlock,
validate, commit, cancel-commit, discard-changes; filters and with-defaults.
"""

from __future__ import annotations

import logging
from copy import deepcopy

from lxml import etree

from agent.datastore.edit import OP_ATTR, Editor
from agent.datastore.store import Datastores
from agent.datastore.worker import share_the_interpreter
from agent.errors import RpcError, RpcErrors
from agent.rpc.context import RpcContext
from agent.rpc.host import Host
from agent.yangdata import defaults, filters
from agent.yangdata.key_index import KeyIndex
from agent.yangdata.params import U32_MAX, one_of, rpc_path, uint_param
from agent.yangdata.schema_index import LIST, SNodeInfo
from agent.yangdata.splice import DATA_CLOSE, DATA_OPEN, TopSplice
from agent.yangdata.tree_diff import path_step, step_keys
from agent.yangdata.xmltree import NC, NC_NS, elements, merge_into, text_of

log = logging.getLogger(__name__)

CAPABILITIES = (
    "urn:ietf:params:netconf:capability:writable-running:1.0",
    "urn:ietf:params:netconf:capability:candidate:1.0",
    # 1.0 too: some clients enable confirmed commit only when they see it; what 1.1
    # added (persist, persist-id, cancel-commit) is only used when asked for.
    "urn:ietf:params:netconf:capability:confirmed-commit:1.0",
    "urn:ietf:params:netconf:capability:confirmed-commit:1.1",
    "urn:ietf:params:netconf:capability:rollback-on-error:1.0",
    "urn:ietf:params:netconf:capability:validate:1.1",
    "urn:ietf:params:netconf:capability:startup:1.0",
    "urn:ietf:params:netconf:capability:xpath:1.0",
    defaults.CAPABILITY,
    defaults.OPERATIONAL_CAPABILITY,
)
EDIT_DEFAULT_OPS = ("merge", "replace", "none")
TEST_OPTIONS = ("test-then-set", "set", "test-only")
ERROR_OPTIONS = ("stop-on-error", "continue-on-error", "rollback-on-error")


# -- parameter parsing ---------------------------------------------------------------------------


def _param(op: etree._Element, name: str) -> etree._Element | None:
    # iterchildren filters by tag in C; find() would go through ElementPath.
    for el in op.iterchildren(NC + name, name):  # some clients leave them unqualified
        return el
    return None


def _missing(op: etree._Element, name: str) -> RpcError:
    return RpcError(
        "missing-element",
        f"<{etree.QName(op).localname}> needs a <{name}> parameter",
        type="protocol",
        path=rpc_path(op),
        info=[("bad-element", name)],
    )


def _datastore_name(op: etree._Element, which: str, allowed: tuple[str, ...]) -> str:
    el = _param(op, which)
    if el is None:
        raise _missing(op, which)
    kids = elements(el)
    if not kids:
        raise RpcError(
            "missing-element",
            f"<{which}> must name a datastore",
            type="protocol",
            path=rpc_path(op, NC + which),
            info=[("bad-element", which)],
        )
    if len(kids) > 1:
        # One case of the YANG choice: a second datastore is an unexpected element.
        extra = kids[1]
        raise RpcError(
            "unknown-element",
            f"<{which}> must name exactly one datastore, not also <{etree.QName(extra).localname}>",
            type="protocol",
            path=rpc_path(op, NC + which, extra.tag),
            info=[("bad-element", etree.QName(extra).localname)],
        )
    name = etree.QName(kids[0]).localname
    if name not in allowed:
        tag = "operation-not-supported" if name == "url" else "invalid-value"
        raise RpcError(
            tag,
            f"<{which}> {name} is not supported here; use one of {', '.join(allowed)}",
            type="protocol",
            path=rpc_path(op, NC + which),
            info=[("bad-element", name)],
        )
    return name


def _source_tree(ds: Datastores, op: etree._Element, allowed: tuple[str, ...]) -> etree._Element:
    """A datastore's tree, or an inline <config> as a <config> wrapper."""
    name = _datastore_name(op, "source", (*allowed, "config"))
    if name != "config":
        return ds.tree(name)
    inline = elements(_param(op, "source"))[0]
    where = rpc_path(op, NC + "source", NC + "config")
    for el in inline.iter():
        if OP_ATTR in el.attrib:
            raise RpcError(
                "bad-attribute",
                "an inline <config> is a whole configuration: operation attributes "
                "belong in edit-config",
                type="protocol",
                path=where,
                info=[("bad-attribute", "operation"), ("bad-element", etree.QName(el).localname)],
            )
    # Built by the edit engine, as edit-config would build it into an empty
    # datastore: the same unknown-element/namespace errors with their paths, no
    # foreign attributes kept, and a duplicate list entry is data-exists.
    tree = etree.Element(NC + "config", nsmap={None: NC_NS})
    errors = Editor(ds.index, ds.prefixes, "create").run(tree, inline).errors
    if errors:
        raise RpcErrors(errors)
    _refuse_duplicates(inline, ds.index, ds.prefixes, "")  # the engine would merge them
    return tree


def _inline_config(op: etree._Element) -> etree._Element | None:
    source = _param(op, "source")
    kids = elements(source) if source is not None else []
    return kids[0] if kids and etree.QName(kids[0]).localname == "config" else None


async def _source(ds: Datastores, op: etree._Element, allowed: tuple[str, ...]) -> etree._Element:
    """_source_tree, built in the worker for a big inline <config> (the edit
    engine reads it whole)."""
    worker = ds.worker_for(_inline_config(op))
    if worker is None:
        return _source_tree(ds, op, allowed)
    return await worker.run(_source_tree, ds, op, allowed)


def _refuse_duplicates(
    parent: etree._Element, schema: dict, prefixes: dict[str, str], path: str
) -> None:
    seen: set[tuple] = set()
    for el in elements(parent):
        info = schema.get(el.tag)
        if info is None:
            continue
        q = etree.QName(el)
        keys = step_keys(el, info)
        step = path + path_step(prefixes.get(q.namespace or "", ""), q.localname, keys)
        if info.kind == LIST:
            if (el.tag, keys) in seen:
                raise RpcError("invalid-value", f"duplicate list entry {step}", path=step)
            seen.add((el.tag, keys))
        _refuse_duplicates(el, info.children, prefixes, step)


def _choice(op: etree._Element, name: str, allowed: tuple[str, ...], default: str) -> str:
    path = rpc_path(op, NC + name)
    return one_of(_param(op, name), name, allowed, default, path)


def _filtered_data(
    ds: Datastores, tree: etree._Element, op: etree._Element, keys: KeyIndex | None = None
) -> etree._Element:
    mode = defaults.mode_of(op)
    filt = _param(op, "filter")
    kind = None if filt is None else filt.get("type", "subtree")
    if kind not in (None, "subtree", "xpath"):
        raise RpcError(
            "bad-attribute",
            f"filter type '{kind}' is not subtree or xpath",
            type="protocol",
            info=[("bad-attribute", "type"), ("bad-element", "filter")],
        )
    return select_data(ds, tree, mode, NC + "data", kind, filt, keys)


def select_data(
    ds: Datastores,
    tree: etree._Element,
    mode: str,
    tag: str,
    kind: str | None = None,
    filt: etree._Element | None = None,
    keys: KeyIndex | None = None,
    selected: filters.Selected | None = None,
) -> etree._Element:
    """A new `tag` element holding what filter `filt` of `kind` ("subtree": its
    children are the filter; "xpath": its select attribute and prefixes) selects of
    tree's top-level nodes, with defaults shown as `mode` says. `keys` only for
    datastore trees (never changed in place); `selected` is told of every node
    selected whole: each one the filter selects, or each top-level node without
    a filter (RFC 8526 max-depth counts levels from these)."""
    if filt is None or mode in defaults.REPORT_ALL:
        data = etree.Element(tag, nsmap={None: etree.QName(tag).namespace})
        for child in elements(tree):
            data.append(deepcopy(child))
        # report-all: defaults go in before filtering, so a filter can select them.
        defaults.apply(data, mode, ds.index)
        if filt is None:
            if selected is not None:
                for top in elements(data):
                    selected(top, ds.index.get(top.tag))
            return defaults.tidy(data, keep=True) if mode == "report-all-tagged" else data
        tree, keys = data, None
    # Both filters copy what they select into a new tree.
    if kind == "xpath":
        data = filters.xpath(tree, filt, ds.index, tag, selected, ds.xpath_rules)
    else:
        data = filters.subtree(tree, filt, ds.index, tag, keys, selected)
    if mode not in defaults.REPORT_ALL:
        defaults.apply(data, mode, ds.index)
    return defaults.tidy(data, keep=True) if mode == "report-all-tagged" else data


async def state_nodes(ctx: RpcContext, subtree: etree._Element | None) -> etree._Element:
    """The state providers' top-level nodes in a wrapper: what <get> reads besides
    running (merged_state). With the subtree filter about to be applied,
    providers of top-level nodes it cannot select are not asked."""
    wanted = filters.top_level(subtree) if subtree is not None else None
    state = etree.Element("w")
    state.extend(await ctx.server.collect_state(wanted))
    return state


def merged_state(ds: Datastores, running: etree._Element, state: etree._Element) -> etree._Element:
    """A copy of `running` with the `state_nodes` merged in."""
    tree = deepcopy(running)
    merge_into(tree, state, ds.index)
    return tree


def serialized(fn, *args) -> bytes:
    """fn(*args)'s reply element as bytes: built and serialised in one go (in the
    request worker for big replies, so the loop does neither)."""
    return etree.tostring(fn(*args), with_tail=False)


# -- handlers -------------------------------------------------------------------------------------


def _ds(ctx: RpcContext) -> Datastores:
    return ctx.server.datastores


def readable(ctx: RpcContext, data: etree._Element) -> etree._Element:
    """`data` without what NACM lets this user not read."""
    nacm = ctx.server.nacm
    if nacm is not None:
        nacm.filter_read(ctx.username, data)
    return data


def visible(ctx: RpcContext, tree: etree._Element, owned: bool = False) -> etree._Element:
    """`tree` as this user may read it. Filters must only ever see this: a filter
    run on hidden data answers questions about it ([secret='guess'] selects the
    entry or not). `owned`: the tree is the caller's to change; else it is a
    datastore tree and the user's readable copy of it is shared (never changed)."""
    nacm = ctx.server.nacm
    if nacm is None or nacm.exempt(ctx.username):
        return tree
    if not owned:
        return nacm.readable_copy(ctx.username, tree)
    nacm.filter_read(ctx.username, tree)
    return tree


def readable_known(ctx: RpcContext, tree: etree._Element) -> bool:
    """Whether `visible(ctx, tree)` of a datastore tree costs nothing (no NACM,
    an exempt user, or the user's readable copy of it is kept already)."""
    nacm = ctx.server.nacm
    return nacm is None or nacm.exempt(ctx.username) or nacm.has_readable_copy(ctx.username, tree)


def get_config(ctx: RpcContext, op: etree._Element):
    ds = _ds(ctx)
    name = _datastore_name(op, "source", ("running", "candidate", "startup"))
    source = ds.tree(name)
    worker = ds.worker_for(source)
    if worker is not None:
        # A big datastore: built off the loop, unless the filter names list
        # entries by their keys (found through the key index, whatever the size).
        filt = _param(op, "filter")
        keyed = (
            filt is not None
            and filt.get("type", "subtree") == "subtree"
            and defaults.mode_of(op) not in defaults.REPORT_ALL
            and filters.keyed(filt, ds.index)
        )
        if not keyed or not readable_known(ctx, source):
            return worker.run(serialized, _config_data, ctx, ds, source, op)
    return _config_data(ctx, ds, source, op)


def _config_data(
    ctx: RpcContext, ds: Datastores, source: etree._Element, op: etree._Element
) -> etree._Element:
    tree = visible(ctx, source)
    # Datastore trees (and readable copies of them) are never changed in place:
    # their key index stays valid.
    return readable(ctx, _filtered_data(ds, tree, op, ds.keys))


async def get(ctx: RpcContext, op: etree._Element):
    filt = _param(op, "filter")
    subtree = filt if filt is not None and filt.get("type", "subtree") == "subtree" else None
    ds = _ds(ctx)
    running = ds.running  # never changed in place: a snapshot
    splice, wanted = _splice_plan(ctx, op, subtree)
    if splice is not None:
        text = await splice.read()
        if wanted is not None:
            # A few entries: a dictionary access each (the key index), on the loop.
            reply = splice.entries_reply(running, ds.index, text, wanted, ds.keys)
        else:
            # Cutting running's text is O(size), once per snapshot; the splice is a join.
            worker = None if splice.has_cut(running) else ds.worker_for(running)
            if worker is not None:
                reply = await worker.run(splice.reply, running, ds.index, text)
            else:
                reply = splice.reply(running, ds.index, text)
        if reply is not None:
            return reply
    elif filt is None and _unshaped(ctx, op) and ctx.server.state_splices:
        reply = await _spliced_whole_get(ctx, ds, running, op)
        if reply is not None:
            return reply
    state = await state_nodes(ctx, subtree)
    worker = ds.worker_for(running, state)
    if worker is not None:
        return await worker.run(serialized, _get_data, ctx, ds, running, state, op)
    return _get_data(ctx, ds, running, state, op)


def _splice_plan(
    ctx: RpcContext, op: etree._Element, subtree: etree._Element | None
) -> tuple[TopSplice | None, list[tuple[str, tuple[str, ...]]] | None]:
    """(splice, None) for a <get> whose filter selects one whole top-level node
    that has a splice; (splice, entries) for one whose filter names list entries
    of it by all their keys and nothing else; (None, None) otherwise. Only where
    nothing else reshapes the data: the basic with-defaults mode, and no NACM
    read rules for this user."""
    none = (None, None)
    if subtree is None or set(subtree.attrib) - {"type"}:
        return none
    nodes = [c for c in subtree if isinstance(c.tag, str)]
    if len(nodes) != 1:
        return none
    node = nodes[0]
    splice = ctx.server.state_splices.get(node.tag)
    if splice is None or node.attrib or (node.text or "").strip() or not _unshaped(ctx, op):
        return none
    if len(node) == 0:
        return splice, None
    wanted = _keyed_entries(node, ctx.server.datastores.index.get(node.tag))
    return (splice, wanted) if wanted is not None else none


def _unshaped(ctx: RpcContext, op: etree._Element) -> bool:
    """Nothing reshapes what <get> reads: the basic with-defaults mode, and no NACM
    read rules for this user."""
    if defaults.mode_of(op) != "explicit":
        return False
    nacm = ctx.server.nacm
    return nacm is None or nacm.exempt(ctx.username)


async def _spliced_whole_get(
    ctx: RpcContext, ds: Datastores, running: etree._Element, op: etree._Element
) -> bytes | None:
    """A <get> without a filter: the top-level nodes that have a splice spliced,
    the others (ietf-interfaces, NACM, monitoring) merged as trees, joined."""
    splices = ctx.server.state_splices
    state = etree.Element("w")
    state.extend(
        n
        for n in await ctx.server.collect_state(lambda tag: tag not in splices)
        if n.tag not in splices
    )
    # Right after the other providers, with no wait between: the dataplane reader
    # hands them the read it just made (one snapshot for <memif> and ietf-interfaces).
    texts = [(splice, await splice.read()) for splice in splices.values()]
    parts = []
    for splice, text in texts:
        worker = None if splice.has_cut(running) else ds.worker_for(running)
        if worker is not None:
            reply = await worker.run(splice.reply, running, ds.index, text)
        else:
            reply = splice.reply(running, ds.index, text)
        if reply is None:
            return None
        parts.append(reply[len(DATA_OPEN) : -len(DATA_CLOSE)])
    rest = etree.Element(running.tag, nsmap=running.nsmap)
    for child in running:
        if child.tag not in splices:
            rest.append(deepcopy(child))
    worker = ds.worker_for(rest, state)
    if worker is not None:
        others = await worker.run(serialized, _get_data, ctx, ds, rest, state, op)
    else:
        others = serialized(_get_data, ctx, ds, rest, state, op)
    if others.endswith(b"/>"):  # an empty <data/>
        return b"".join((others[:-2], b">", *parts, DATA_CLOSE))
    if not others.endswith(DATA_CLOSE):
        return None
    return b"".join((others[: -len(DATA_CLOSE)], *parts, DATA_CLOSE))


def _keyed_entries(
    node: etree._Element, info: SNodeInfo | None
) -> list[tuple[str, tuple[str, ...]]] | None:
    """The (list tag, key values) of each child of filter node `node` that is a
    list entry named by all its keys and nothing else, or None if any is not."""
    if info is None:
        return None
    out = []
    for entry in node:
        if not isinstance(entry.tag, str):
            continue
        ci = info.children.get(entry.tag)
        if ci is None or ci.kind != LIST or entry.attrib or (entry.text or "").strip():
            return None
        values: dict[str, str] = {}
        for leaf in entry:
            if not isinstance(leaf.tag, str):
                continue
            text = (leaf.text or "").strip()
            named_once = leaf.tag in ci.keys and leaf.tag not in values
            if not named_once or len(leaf) or leaf.attrib or not text:
                return None
            values[leaf.tag] = text
        if len(values) != len(ci.keys):
            return None
        out.append((entry.tag, tuple(values[k] for k in ci.keys)))
    return out or None


def _get_data(
    ctx: RpcContext,
    ds: Datastores,
    running: etree._Element,
    state: etree._Element,
    op: etree._Element,
) -> etree._Element:
    tree = visible(ctx, merged_state(ds, running, state), owned=True)
    # readable() again: with-defaults may add defaults under what was removed.
    return readable(ctx, _filtered_data(ds, tree, op))


async def edit_config(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    target = _datastore_name(op, "target", ("candidate", "running"))
    config = _param(op, "config")
    if config is None:
        if _param(op, "url") is not None:
            raise RpcError(
                "operation-not-supported", "the :url capability is not supported", type="protocol"
            )
        raise _missing(op, "config")
    errors = await ds.edit(
        target,
        config,
        ctx.session_id,
        default_operation=_choice(op, "default-operation", EDIT_DEFAULT_OPS, "merge"),
        test_option=_choice(op, "test-option", TEST_OPTIONS, "test-then-set"),
        error_option=_choice(op, "error-option", ERROR_OPTIONS, "stop-on-error"),
    )
    if errors:
        raise RpcErrors(errors)


async def copy_config(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    target = _datastore_name(op, "target", ("running", "candidate", "startup"))
    src_el = _param(op, "source")
    if src_el is not None and elements(src_el):
        src_name = etree.QName(elements(src_el)[0]).localname
        if src_name == target:
            raise RpcError(
                "invalid-value", "copy-config source and target are the same", type="protocol"
            )
    source = await _source(ds, op, ("running", "candidate", "startup"))
    await ds.copy(source, target, ctx.session_id)


async def delete_config(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    target = _datastore_name(op, "target", ("running", "candidate", "startup"))
    await ds.delete(target, ctx.session_id)


def lock(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    target = _datastore_name(op, "target", ("running", "candidate", "startup"))
    ds.lock(target, ctx.session_id)


def unlock(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    target = _datastore_name(op, "target", ("running", "candidate", "startup"))
    ds.locks.unlock(target, ctx.session_id)


def validate(ctx: RpcContext, op: etree._Element):
    ds = _ds(ctx)
    allowed = ("running", "candidate", "startup")
    inline = _inline_config(op)
    # A datastore source costs nothing to name; an inline one is built first.
    tree = _source_tree(ds, op, allowed) if inline is None else None
    worker = ds.worker_for(tree if inline is None else inline)
    if worker is None:
        ds.validate(tree if tree is not None else _source_tree(ds, op, allowed))
        return None

    async def validated() -> None:
        source = tree if tree is not None else await _source(ds, op, allowed)
        await worker.run(ds.validate, source)

    return validated()


async def commit(ctx: RpcContext, op: etree._Element) -> None:
    ds = _ds(ctx)
    confirmed = _param(op, "confirmed") is not None
    timeout = 600
    t = _param(op, "confirm-timeout")
    if t is not None:
        # RFC 6241: uint32, 1 and up; checked before anything is committed.
        timeout = uint_param(
            t,
            "confirm-timeout",
            1,
            U32_MAX,
            rpc_path(op, NC + "confirm-timeout"),
            f"a number of seconds from 1 to {U32_MAX}",
        )
    p = _param(op, "persist")
    pid = _param(op, "persist-id")
    await ds.commit(
        ctx.session_id,
        confirmed=confirmed,
        timeout=timeout,
        persist_token=text_of(p) if p is not None else None,
        persist_id=text_of(pid) if pid is not None else None,
    )


async def cancel_commit(ctx: RpcContext, op: etree._Element) -> None:
    pid = _param(op, "persist-id")
    await _ds(ctx).cancel_commit(ctx.session_id, text_of(pid) if pid is not None else None)


def discard_changes(ctx: RpcContext, op: etree._Element):
    ds = _ds(ctx)
    ds.locks.require_writable("candidate", ctx.session_id)
    # Discarding undoes other sessions' edits too: a change like any other.
    candidate, running = ds.candidate, ds.running
    worker = ds.worker_for(candidate, running) if candidate is not running else None
    if worker is None:
        ds.check_write(ctx.session_id, candidate, running)
        ds.discard()
        return None

    async def discarded() -> None:
        await worker.run(ds.check_write, ctx.session_id, candidate, running)
        ds.locks.require_writable("candidate", ctx.session_id)
        if ds.candidate is not candidate or ds.running is not running:
            # changed meanwhile: decided again, here, on what is discarded now
            ds.check_write(ctx.session_id, ds.candidate, ds.running)
        ds.discard()

    return discarded()


HANDLERS = {
    "get": get,
    "get-config": get_config,
    "edit-config": edit_config,
    "copy-config": copy_config,
    "delete-config": delete_config,
    "lock": lock,
    "unlock": unlock,
    "validate": validate,
    "commit": commit,
    "cancel-commit": cancel_commit,
    "discard-changes": discard_changes,
}


def register(server: Host, ds: Datastores) -> None:
    for uri in CAPABILITIES:
        server.add_capability(uri)
    for name, fn in HANDLERS.items():
        server.register_rpc(NC_NS, name, fn)
    server.add_session_end_hook(ds.session_ended)

    async def apply_running_at_startup() -> None:
        applier = ds.applier
        if applier is None:
            return
        try:
            await applier.apply(ds.typed.get(ds.running))
        except (RpcError, RpcErrors) as e:
            log.error("running configuration could not be applied at start-up: %s", e)

    server.add_startup_hook(apply_running_at_startup)
    server.add_startup_hook(share_the_interpreter)
