"""RFC 8072 YANG Patch: a list of edits applied as one commit, or none.

The edits become one NETCONF-style edit document (each target under its
ancestors, with its nc:operation), so they pass the same checks and commit as
any other edit. Two edits whose targets are the same node, or one inside the
other, cannot be expressed that way and are refused. insert and move need an
ordered-by user list, which the agent's edit engine does not order: refused.
The envelope (yang-patch, yang-patch-status) is yang-data, which the libyang
binding cannot parse or print; it is read and written here, the edit values by
libyang.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.restconf import encoding, paths
from agent.restconf.errors import RestconfError, as_errors, bad_request, status_of
from agent.restconf.paths import Step
from agent.restconf.resources import OPERATION, Reply, Resources, _config_only, _must_exist
from agent.yangdata.xmltree import NC, NC_NS, elements

YP_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
_Y = f"{{{YP_NS}}}"
OPERATIONS = ("create", "delete", "insert", "merge", "move", "replace", "remove")
MAX_EDITS = 10_000


@dataclass
class Edit:
    edit_id: str
    operation: str
    target: str
    steps: list[Step]
    value: tuple[bytes, str] | None  # (the value's text, "xml" or "json")


def _text(v, what: str) -> str:
    if not isinstance(v, str):
        raise bad_request(f"yang-patch: {what} must be a string")
    return v


def parse_envelope(body: bytes, fmt: str) -> tuple[str, list[dict]]:
    """(patch-id, [{edit-id, operation, target, value}]) of a yang-patch body."""
    if fmt == "json":
        text = encoding.decode_body(body)
        if not encoding._json_depth_ok(text):
            raise bad_request("the patch nests too deep")
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as e:
            raise bad_request(f"the body is not JSON: {e}", tag="malformed-message") from None
        if not isinstance(doc, dict) or list(doc) != ["ietf-yang-patch:yang-patch"]:
            raise bad_request('a YANG Patch is {"ietf-yang-patch:yang-patch": {...}}')
        yp = doc["ietf-yang-patch:yang-patch"]
        if not isinstance(yp, dict):
            raise bad_request("yang-patch must be an object")
        pid = _text(yp.get("patch-id"), "patch-id")
        raw = yp.get("edit", [])
        if not isinstance(raw, list):
            raise bad_request("yang-patch: edit must be a list")
        edits = []
        for e in raw:
            if not isinstance(e, dict):
                raise bad_request("yang-patch: each edit is an object")
            value = e.get("value")
            if value is not None and not isinstance(value, dict):
                raise bad_request("yang-patch: an edit's value is an object")
            edits.append(
                {
                    "edit-id": _text(e.get("edit-id"), "edit-id"),
                    "operation": _text(e.get("operation"), "operation"),
                    "target": _text(e.get("target"), "target"),
                    "value": None if value is None else (json.dumps(value).encode(), "json"),
                    "point": e.get("point"),
                    "where": e.get("where"),
                }
            )
        return pid, edits
    root = encoding.parse_xml(body)
    if root.tag != _Y + "yang-patch":
        raise bad_request(f'a YANG Patch is <yang-patch xmlns="{YP_NS}">')
    pid = root.findtext(_Y + "patch-id")
    if pid is None:
        raise bad_request("yang-patch needs a patch-id", tag="missing-element")
    edits = []
    for e in root.iterchildren(_Y + "edit"):
        value = e.find(_Y + "value")
        edits.append(
            {
                "edit-id": e.findtext(_Y + "edit-id"),
                "operation": e.findtext(_Y + "operation"),
                "target": e.findtext(_Y + "target"),
                "value": None if value is None else (value, "xml"),
                "point": e.findtext(_Y + "point"),
                "where": e.findtext(_Y + "where"),
            }
        )
    return pid, edits


def _edit_status(pid: str, errors: list[RpcError] | None, edit_id: str | None, fmt: str) -> bytes:
    from agent.restconf.errors import _entry, _xml_safe

    if fmt == "json":
        status: dict = {"patch-id": pid}
        if errors is None:
            status["ok"] = [None]
        elif edit_id is not None:
            status["edit-status"] = {
                "edit": [{"edit-id": edit_id, "errors": {"error": [_entry(e) for e in errors]}}]
            }
        else:
            status["errors"] = {"error": [_entry(e) for e in errors]}
        return json.dumps({"ietf-yang-patch:yang-patch-status": status}).encode()
    root = etree.Element(_Y + "yang-patch-status", nsmap={None: YP_NS})
    etree.SubElement(root, _Y + "patch-id").text = pid
    if errors is None:
        etree.SubElement(root, _Y + "ok")
    else:
        holder = root
        if edit_id is not None:
            edit = etree.SubElement(etree.SubElement(root, _Y + "edit-status"), _Y + "edit")
            etree.SubElement(edit, _Y + "edit-id").text = edit_id
            holder = edit
        errs = etree.SubElement(holder, _Y + "errors")
        rc = "{urn:ietf:params:xml:ns:yang:ietf-restconf}"
        for e in errors:
            el = etree.SubElement(errs, rc + "error")
            for name, value in _entry(e).items():
                child = etree.SubElement(el, rc + name)
                if name == "error-info":
                    for tag, text in e.info:
                        etree.SubElement(child, rc + tag).text = _xml_safe(text)
                else:
                    child.text = _xml_safe(str(value))
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _value_node(res: Resources, edit: Edit) -> etree._Element:
    """The edit's value as the node its target names (XML), keys as in the target."""
    assert edit.value is not None
    value, fmt = edit.value
    steps = edit.steps
    if fmt == "json":
        wrapper, parent = res.body_nodes(value, "json", steps[:-1])
    else:
        kids = elements(value)
        if len(kids) != 1:
            raise bad_request(f"edit {edit.edit_id}: the value must hold one data node")
        wrapper, parent = paths.chain(steps[:-1])
        parent.append(kids[0])
    node = res._child(parent, steps[:-1])
    if node.tag != steps[-1].info.tag or not paths.matches(node, steps[-1]):
        raise bad_request(
            f"edit {edit.edit_id}: the value is not the node its target names "
            f"({paths.xpath(steps)})"
        )
    return node


def _place(doc: etree._Element, edit: Edit, node: etree._Element) -> None:
    """Put `node` (with its operation) at its target under `doc`, sharing
    ancestors with earlier edits; refuse overlapping targets."""
    parent = doc
    for i, s in enumerate(edit.steps[:-1]):
        found = next((c for c in parent.iterchildren(s.info.tag) if paths.matches(c, s)), None)
        if found is not None and OPERATION in found.attrib:
            raise _overlap(edit, edit.steps[: i + 1])
        parent = found if found is not None else paths.new_node(s, parent)
    last = edit.steps[-1]
    if any(paths.matches(c, last) for c in parent.iterchildren(last.info.tag)):
        raise _overlap(edit, edit.steps)
    parent.append(node)


def _overlap(edit: Edit, steps: list[Step]) -> RestconfError:
    return RestconfError(
        400,
        "operation-not-supported",
        f"edit {edit.edit_id}: another edit of this patch already targets {paths.xpath(steps)}; "
        "edits of one patch must target separate nodes",
        type="application",
    )


async def run(
    res: Resources,
    user: str,
    peer: str,
    steps: list[Step],
    tail: str,
    body: bytes,
    ctype: str,
    out_fmt: str,
    headers,
) -> Reply:
    fmt = "json" if ctype == encoding.PATCH_JSON else "xml"
    pid, raw_edits = parse_envelope(body, fmt)
    if len(raw_edits) > MAX_EDITS:
        raise RestconfError(413, "too-big", f"more than {MAX_EDITS} edits", type="protocol")
    current: str | None = None
    try:
        edits: list[Edit] = []
        seen: set[str] = set()
        for e in raw_edits:
            current = e["edit-id"]
            if not current:
                raise bad_request("an edit needs an edit-id", tag="missing-element")
            if current in seen:
                raise bad_request(f"edit-id {current!r} is used twice")
            seen.add(current)
            op = e["operation"]
            if op not in OPERATIONS:
                raise bad_request(
                    f"edit {current}: operation {str(op)[:20]!r} is not one of "
                    + ", ".join(OPERATIONS)
                )
            if op in ("insert", "move"):
                raise RestconfError(
                    400,
                    "operation-not-supported",
                    f"edit {current}: {op} applies to ordered-by user lists, "
                    "which the agent does not order",
                    type="application",
                )
            target = e["target"]
            if not target or not target.startswith("/"):
                raise bad_request(f"edit {current}: target must start with '/'")
            full = res.schema.parse(tail.rstrip("/") + ("" if target == "/" else target))
            if not full:
                raise bad_request(f"edit {current}: the target is a data node, not the datastore")
            _config_only(full)
            needs_value = op in ("create", "merge", "replace")
            if needs_value and e["value"] is None:
                raise bad_request(f"edit {current}: {op} needs a value", tag="missing-element")
            if not needs_value and e["value"] is not None:
                raise bad_request(f"edit {current}: {op} takes no value")
            edits.append(Edit(current, op, target, full, e["value"]))
        current = None
        if not edits:
            raise bad_request("the patch has no edits")
        doc = etree.Element(NC + "config", nsmap={None: NC_NS, "nc": NC_NS})
        for edit in edits:
            current = edit.edit_id
            if edit.value is not None:
                node = _value_node(res, edit)
            else:
                _, parent = paths.skeleton(edit.steps)
                node = paths.new_node(edit.steps[-1], parent)
            node.set(OPERATION, edit.operation)
            _place(doc, edit, node)
        current = None if len(edits) > 1 else edits[0].edit_id
        await res._commit(user, peer, doc, steps, headers, _must_exist(steps))
    except (RpcError, RpcErrors) as exc:
        errors = as_errors(exc)
        status = status_of(errors)
        if status in (401, 412):
            raise
        return Reply(
            status, _edit_status(pid, errors, current, out_fmt), encoding.content_type(out_fmt)
        )
    tag, modified = await res._after(user, steps)
    return Reply(
        200,
        _edit_status(pid, None, None, out_fmt),
        encoding.content_type(out_fmt),
        etag=tag,
        last_modified=modified,
    )
