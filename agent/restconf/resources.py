"""RFC 8040 data resources: what GET, PUT, POST, PATCH and DELETE do to a
datastore, given the parsed request; no HTTP here (agent.restconf.app is).

Writes become one NETCONF-style <config> edit (ancestors, then the target with
its nc:operation) that Core.edit runs through the NETCONF commit path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

from agent.restconf import encoding, paths, preconditions, query
from agent.restconf.core import Core
from agent.restconf.errors import RC_NS, RestconfError, bad_request, not_found
from agent.restconf.paths import Step
from agent.yangdata import defaults
from agent.yangdata.schema_index import LIST
from agent.yangdata.xmltree import NC, NC_NS, elements

OPERATION = NC + "operation"
RC_DATA = f"{{{RC_NS}}}data"


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: float | None = None
    location: str | None = None


class Resources:
    def __init__(self, core: Core, schema: paths.Schema) -> None:
        self.core = core
        self.schema = schema
        self.ctx = core.schema

    # -- reading --------------------------------------------------------------------------

    async def get(
        self,
        user: str,
        datastore: str,
        steps: list[Step],
        q: query.Query,
        fmt: str,
        headers: Mapping[str, str],
    ) -> Reply:
        config_ds = "running" if datastore == "operational" else datastore
        config = await self.core.read(user, config_ds)
        tag = preconditions.etag(paths.find(config, steps) if steps else config, whole=not steps)
        modified = self.core.last_modified(config_ds)
        try:
            preconditions.check(headers, tag, modified, safe=True)
        except preconditions.NotModified:
            return Reply(304, etag=tag, last_modified=modified)
        if datastore == config_ds:
            tree = config
        elif steps:
            tree = await self.core.read(
                user,
                datastore,
                narrow=lambda t: paths.copy_with_ancestors(t, steps, NC + "config")[0],
                top=steps[0].info.tag,
            )
        else:
            tree = await self.core.read(user, datastore)
        wrapper, target = paths.copy_with_ancestors(tree, steps, NC + "data")
        if target is None:
            raise not_found(f"no data at {paths.xpath(steps)}", path=paths.xpath(steps))
        mode = q.with_defaults
        if mode != "explicit":
            defaults.apply(wrapper, mode, self.core.index)
            # Defaults may appear under what the user may not read.
            self.core.prune(user, wrapper)
            if mode == "report-all-tagged":
                wrapper = defaults.tidy(wrapper, keep=True)
        if steps:
            target = paths.find(wrapper, steps)
            if target is None:
                raise not_found(f"no data at {paths.xpath(steps)}", path=paths.xpath(steps))
            info = steps[-1].info
            if not query.apply_content(target, info, q.content):
                raise not_found(f"no {q.content} data at {paths.xpath(steps)}")
            if q.fields is not None:
                query.apply_fields(target, info, q.fields, self.schema.module_of)
            if q.depth is not None:
                query.apply_depth(target, info, q.depth)
        else:
            self._shape_top(wrapper, q)
        if fmt == "json":
            body = encoding.data_json(self.ctx, wrapper, steps, self.schema)
        else:
            body = encoding.data_xml(wrapper, target, whole=not steps)
        return Reply(200, body, encoding.content_type(fmt), tag, modified)

    def _shape_top(self, wrapper: etree._Element, q: query.Query) -> None:
        index = self.core.index
        for top in elements(wrapper):
            info = index.get(top.tag)
            if not query.apply_content(top, info, q.content):
                wrapper.remove(top)
                continue
            if q.fields is not None:
                hit, sub = query._selected(q.fields, top, self.schema.module_of)
                if not hit:
                    wrapper.remove(top)
                    continue
                if sub is not None:
                    query.apply_fields(top, info, sub, self.schema.module_of)
            if q.depth is not None:
                query.apply_depth(top, info, q.depth)

    # -- bodies ---------------------------------------------------------------------------

    def body_nodes(
        self, body: bytes, fmt: str, parent_steps: list[Step], datastore_body: bool = False
    ) -> tuple[etree._Element, etree._Element]:
        """A request body as children of the node `parent_steps` names: (a <config>
        wrapper with that node's ancestors, the parent element in it). A body for
        the datastore itself is ietf-restconf:data."""
        if fmt == "json":
            text = encoding.decode_body(body)
            if datastore_body:
                text = _unwrap_json_data(text)
            wrapper = encoding.parse_json_into(self.ctx, text, parent_steps)
            parent = paths.find(wrapper, parent_steps) if parent_steps else wrapper
            if parent is None:  # an empty body
                wrapper, parent = paths.chain(parent_steps)
            return wrapper, parent
        root = encoding.parse_xml(body)
        if datastore_body:
            if root.tag != RC_DATA:
                raise bad_request(f'a datastore body is <data xmlns="{RC_NS}">')
            wrapper = etree.Element(NC + "config", nsmap={None: NC_NS})
            for c in elements(root):
                wrapper.append(c)
            return wrapper, wrapper
        wrapper, parent = paths.chain(parent_steps)
        parent.append(root)
        return wrapper, parent

    def _child(self, parent: etree._Element, parent_steps: list[Step]) -> etree._Element:
        """The one node a body holds (besides the parent's own keys)."""
        keys = ()
        if parent_steps and parent_steps[-1].info.kind == LIST:
            keys = parent_steps[-1].info.keys
        kids = [c for c in elements(parent) if c.tag not in keys]
        if len(kids) != 1:
            raise bad_request(f"the body must hold exactly one data node, not {len(kids)}")
        return kids[0]

    def _target_in_body(
        self, body: bytes, fmt: str, steps: list[Step]
    ) -> tuple[etree._Element, etree._Element]:
        """(edit wrapper, the body's node) for PUT/PATCH of the node `steps` names:
        the body is that node, its keys as in the URI."""
        wrapper, parent = self.body_nodes(body, fmt, steps[:-1])
        node = self._child(parent, steps[:-1])
        step = steps[-1]
        if node.tag != step.info.tag:
            raise bad_request(
                f"the body holds {etree.QName(node).localname}, the URI names {step.info.name}"
            )
        if not paths.matches(node, step):
            raise bad_request(
                f"the body's key values differ from the URI's ({paths.xpath(steps)})",
                path=paths.xpath(steps),
            )
        return wrapper, node

    # -- writing --------------------------------------------------------------------------

    def _precondition(self, user: str, steps: list[Step], headers, state: dict, need: bool):
        """The check that runs under the commit lock: preconditions against
        running as this user sees it, and whether the target exists."""

        def check(base: etree._Element) -> None:
            view = self.core.view(user, base)
            node = paths.find(view, steps) if steps else view
            state["existed"] = node is not None
            tag = preconditions.etag(node, whole=not steps)
            preconditions.check(headers, tag, self.core.last_modified("running"), safe=False)
            if need and node is None:
                raise not_found(f"no data at {paths.xpath(steps)}", path=paths.xpath(steps))

        return check

    async def _commit(
        self,
        user: str,
        peer: str,
        edit: etree._Element,
        steps: list[Step],
        headers,
        need: bool,
        default_operation: str = "merge",
    ) -> dict:
        state: dict = {}
        await self.core.edit(
            user,
            peer,
            edit,
            default_operation=default_operation,
            check_base=self._precondition(user, steps, headers, state, need),
        )
        return state

    async def _after(self, user: str, steps: list[Step]) -> tuple[str | None, float]:
        config = await self.core.read(user, "running")
        node = paths.find(config, steps) if steps else config
        return preconditions.etag(node, whole=not steps), self.core.last_modified("running")

    async def put(
        self, user: str, peer: str, steps: list[Step], body: bytes, fmt: str, headers
    ) -> Reply:
        if not steps:
            wrapper, _ = self.body_nodes(body, fmt, [], datastore_body=True)
            await self._commit(user, peer, wrapper, steps, headers, False, "replace")
            tag, modified = await self._after(user, steps)
            return Reply(204, etag=tag, last_modified=modified)
        _config_only(steps)
        wrapper, node = self._target_in_body(body, fmt, steps)
        node.set(OPERATION, "replace")
        state = await self._commit(user, peer, wrapper, steps, headers, False)
        tag, modified = await self._after(user, steps)
        return Reply(204 if state.get("existed") else 201, etag=tag, last_modified=modified)

    async def post(
        self, user: str, peer: str, steps: list[Step], body: bytes, fmt: str, headers
    ) -> Reply:
        if steps:
            _config_only(steps)
            if steps[-1].info.kind not in ("container", "list"):
                raise bad_request(f"{steps[-1].info.name} has no child to create (POST)")
        wrapper, parent = self.body_nodes(body, fmt, steps)
        node = self._child(parent, steps)
        node.set(OPERATION, "create")
        child = self.schema.step_of(node, steps)
        new = [*steps, child]
        await self._commit(user, peer, wrapper, steps, headers, _must_exist(steps))
        tag, modified = await self._after(user, new)
        return Reply(201, etag=tag, last_modified=modified, location=paths.location(new))

    async def patch(
        self, user: str, peer: str, steps: list[Step], body: bytes, fmt: str, headers
    ) -> Reply:
        if not steps:
            wrapper, _ = self.body_nodes(body, fmt, [], datastore_body=True)
            await self._commit(user, peer, wrapper, steps, headers, False)
        else:
            _config_only(steps)
            wrapper, node = self._target_in_body(body, fmt, steps)
            node.set(OPERATION, "merge")
            await self._commit(user, peer, wrapper, steps, headers, _must_exist(steps), "none")
        tag, modified = await self._after(user, steps)
        return Reply(204, etag=tag, last_modified=modified)

    async def delete(self, user: str, peer: str, steps: list[Step], headers) -> Reply:
        if not steps:
            raise RestconfError(
                405, "operation-not-supported", "a datastore cannot be deleted", type="protocol"
            )
        _config_only(steps)
        wrapper, parent = paths.skeleton(steps)
        node = paths.new_node(steps[-1], parent)
        node.set(OPERATION, "delete")
        await self._commit(user, peer, wrapper, steps, headers, True, "none")
        return Reply(204, last_modified=self.core.last_modified("running"))


def _must_exist(steps: list[Step]) -> bool:
    """Whether a POST or PATCH target must already exist: a non-presence
    container exists as soon as its parent does (RFC 7950 §7.5.1)."""
    if not steps:
        return False
    info = steps[-1].info
    return not (info.kind == "container" and not info.presence)


def _config_only(steps: list[Step]) -> None:
    for s in steps:
        if not s.info.config:
            raise RestconfError(
                405,
                "operation-not-supported",
                f"{s.info.name} is state data (config false): it can only be read",
                type="protocol",
            )


def _unwrap_json_data(text: str) -> str:
    """The members of {"ietf-restconf:data": {...}} as one JSON object."""
    import json

    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise bad_request(
            f"the body is not JSON: {e}", tag="malformed-message", type="rpc"
        ) from None
    if not isinstance(doc, dict) or list(doc) != ["ietf-restconf:data"]:
        raise bad_request('a datastore body is {"ietf-restconf:data": {...}}')
    inner = doc["ietf-restconf:data"]
    if not isinstance(inner, dict):
        raise bad_request('a datastore body is {"ietf-restconf:data": {...}}')
    return json.dumps(inner)
