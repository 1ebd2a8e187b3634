"""RFC 7951 JSON of the agent's replies, encoded by libyang from the YANG model.

The encoding follows the leaf types: uint8/16/32 and booleans are JSON numbers
and booleans, 64-bit integers (the counters) are strings, as RFC 7951 §6.1 says.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import libyang
from lxml import etree

from agent.yangdata.schema import MEMIF_MODULE, search_path

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"


@cache
def _context() -> libyang.Context:
    ctx = libyang.Context(search_path())
    ctx.load_module(MEMIF_MODULE)
    return ctx


def data(reply_data: etree._Element) -> str:
    """A <data> element (get / get-config reply) as RFC 7951 JSON text.

    Shape: {"memif-agent:memif": {"socket": [...], "interface": [...]}}, or {} when
    the reply holds nothing of the model.
    """
    parts = [etree.tostring(c) for c in reply_data if isinstance(c.tag, str)]
    if not parts:
        return "{}"
    ctx = _context()
    # parse_only: the reply is the agent's, already valid; state leaves included.
    tree = ctx.parse_data_mem(b"".join(parts), "xml", parse_only=True)
    if tree is None:
        return "{}"
    try:
        return _tidy(tree.print_mem("json", with_siblings=True, pretty=True))
    finally:
        tree.free()


def notification(xml: str | bytes) -> dict[str, Any]:
    """A <notification> as RFC 8040 §6.4 JSON: {"ietf-restconf:notification":
    {"eventTime": ..., "memif-agent:link-state-change": {...}}}."""
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    when = root.findtext(f"{{{NOTIF_NS}}}eventTime") or ""
    body: dict[str, Any] = {}
    for child in root:
        if not isinstance(child.tag, str) or etree.QName(child).namespace == NOTIF_NS:
            continue
        tree = _context().parse_op_mem(
            "xml", etree.tostring(child).decode(), dtype=libyang.DataType.NOTIF_YANG
        )
        try:
            body.update(json.loads(tree.print_mem("json", with_siblings=True, pretty=False)))
        finally:
            tree.free()
    return {"ietf-restconf:notification": {"eventTime": when, **body}}


def _tidy(text: str) -> str:
    # libyang pretty-prints with 2 spaces and a trailing newline; re-dump for a
    # stable layout shared with the notification output.
    return json.dumps(json.loads(text), indent=2)
