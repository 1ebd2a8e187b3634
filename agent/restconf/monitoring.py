"""RFC 8040 §9 ietf-restconf-monitoring: the server's capabilities and its
event streams, at {+restconf}/data/ietf-restconf-monitoring:restconf-state.

The module lives in a libyang context of its own: it describes the RESTCONF
server only, so the NETCONF side's YANG library and capabilities stay as they
were.
"""

from __future__ import annotations

from functools import cache

import libyang
from lxml import etree

from agent.restconf import encoding, paths, query
from agent.restconf.errors import not_found
from agent.restconf.resources import Reply
from agent.yangdata.schema_index import index_for
from agent.yangdata.xmltree import NC

RCM_NS = "urn:ietf:params:xml:ns:yang:ietf-restconf-monitoring"
MODULE = "ietf-restconf-monitoring"
CAPABILITIES = (
    "urn:ietf:params:restconf:capability:defaults:1.0?basic-mode=explicit",
    "urn:ietf:params:restconf:capability:depth:1.0",
    "urn:ietf:params:restconf:capability:fields:1.0",
    "urn:ietf:params:restconf:capability:with-defaults:1.0",
    "urn:ietf:params:restconf:capability:yang-patch:1.0",
)


@cache
def context() -> tuple[libyang.Context, paths.Schema]:
    from libyang.util import c2str

    from agent.yangdata.schema import search_path

    ctx = libyang.Context(search_path())
    ctx.load_module(MODULE)
    modules = {m.name(): c2str(m.cdata.ns) for m in ctx}
    return ctx, paths.Schema(index_for(ctx), modules)


def state(base_url: str) -> etree._Element:
    q = f"{{{RCM_NS}}}"
    root = etree.Element(NC + "data")
    rs = etree.SubElement(root, q + "restconf-state", nsmap={None: RCM_NS})
    caps = etree.SubElement(rs, q + "capabilities")
    for c in CAPABILITIES:
        etree.SubElement(caps, q + "capability").text = c
    stream = etree.SubElement(etree.SubElement(rs, q + "streams"), q + "stream")
    etree.SubElement(stream, q + "name").text = "NETCONF"
    etree.SubElement(
        stream, q + "description"
    ).text = "default NETCONF event stream: link-state-change and the RFC 6470 events"
    etree.SubElement(stream, q + "replay-support").text = "false"
    for enc in ("xml", "json"):
        access = etree.SubElement(stream, q + "access")
        etree.SubElement(access, q + "encoding").text = enc
        etree.SubElement(access, q + "location").text = f"{base_url}/streams/NETCONF/{enc}"
    return root


def get(tail: str, base_url: str, q: query.Query, fmt: str) -> Reply:
    ctx, schema = context()
    steps = schema.parse(tail)
    wrapper, target = paths.copy_with_ancestors(state(base_url), steps, NC + "data")
    if target is None:
        raise not_found(f"no data at {paths.xpath(steps)}")
    info = steps[-1].info
    if q.content == "config":
        raise not_found("restconf-state is state data only")
    if q.fields is not None:
        query.apply_fields(target, info, q.fields, schema.module_of)
    if q.depth is not None:
        query.apply_depth(target, info, q.depth)
    if fmt == "json":
        body = encoding.data_json(ctx, wrapper, steps)
    else:
        body = encoding.data_xml(wrapper, target, whole=False)
    return Reply(200, body, encoding.content_type(fmt))
