"""Media types (RFC 8040 §5.2, RFC 8072) and the XML <-> RFC 7951 JSON
conversion, done by libyang both ways; the datastores hold lxml trees.

Parsing a JSON body goes into its parent node (lyd_parse_data with a parent), so
a body for /data/memif-agent:memif/interface=1,2 is exactly what RFC 8040 says:
{"memif-agent:interface": [...]}. Bodies in XML are parsed by the hardened
lxml parser of the NETCONF sessions.
"""

from __future__ import annotations

import json

import libyang
from lxml import etree

from agent.netconf.session import hardened_parser
from agent.restconf.errors import RC_NS, RestconfError, bad_request
from agent.restconf.paths import Schema, Step, xpath
from agent.yangdata.defaults import WD_ATTR
from agent.yangdata.xmltree import NC, NC_NS, elements

XML = "application/yang-data+xml"
JSON = "application/yang-data+json"
PATCH_XML = "application/yang-patch+xml"
PATCH_JSON = "application/yang-patch+json"
EVENTS = "text/event-stream"
_FORMATS = {XML: "xml", JSON: "json", "application/xml": "xml", "application/json": "json"}
# Elements in one request body: a 1,000-interface PUT is ~15,000.
MAX_BODY_ELEMENTS = 500_000
# Nesting of a JSON body before libyang sees it: the model is six levels deep.
MAX_JSON_DEPTH = 64


def media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def accept(header: str | None, default: str) -> str:
    """ "xml" or "json" for an Accept header (q-values honoured); 406 if neither."""
    if not header or not header.strip():
        return default
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(header.split(",")):
        fields = [f.strip() for f in part.split(";")]
        mtype = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.lower().startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if q <= 0:
            continue
        fmt = _FORMATS.get(mtype)
        if fmt is None and mtype in ("*/*", "application/*"):
            fmt = default
        if fmt is not None and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, fmt)
    if best is None:
        raise RestconfError(
            406,
            "invalid-value",
            f"cannot answer in {header[:100]!r}: use {XML} or {JSON}",
            type="protocol",
        )
    return best[2]


def content_format(header: str | None) -> str:
    """ "xml" or "json" for a data body's Content-Type; 415 otherwise."""
    fmt = _FORMATS.get(media_type(header))
    if fmt is None:
        raise RestconfError(
            415,
            "invalid-value",
            f"a body must be {XML} or {JSON}, not {media_type(header)[:100]!r}",
            type="protocol",
        )
    return fmt


def content_type(fmt: str) -> str:
    return JSON if fmt == "json" else XML


# -- output --------------------------------------------------------------------------------


def _libyang_tree(ctx: libyang.Context, wrapper: etree._Element) -> libyang.DNode | None:
    text = b"".join(etree.tostring(c) for c in elements(wrapper))
    if not text:
        return None
    try:
        return ctx.parse_data_mem(text.decode(), "xml", parse_only=True, strict=True)
    except libyang.LibyangError as e:
        raise RestconfError(500, "operation-failed", f"cannot encode the data: {e}") from None


def _tagged_paths(wrapper: etree._Element, schema: Schema) -> list[str]:
    """Instance paths of the leaves tagged wd:default="true" (report-all-tagged),
    their tags removed: the libyang binding cannot parse that annotation, so the
    printer is told through libyang's own default flag instead."""
    out = []
    for el in wrapper.iter():
        if not isinstance(el.tag, str) or el.attrib.get(WD_ATTR) != "true":
            continue
        del el.attrib[WD_ATTR]
        chain = [a for a in el.iterancestors() if a is not wrapper][::-1]
        steps: list[Step] = []
        for node in [*chain, el]:
            steps.append(schema.step_of(node, steps))
        out.append(xpath(steps))
    return out


def _print(node: libyang.DNode, siblings: bool, tagged: bool) -> str:
    if not tagged:
        return node.print_mem(
            "json", with_siblings=siblings, pretty=False, keep_empty_containers=True
        )
    from _libyang import ffi, lib

    flags = lib.LYD_PRINT_SHRINK | lib.LYD_PRINT_KEEPEMPTYCONT | lib.LYD_PRINT_WD_ALL_TAG
    if siblings:
        flags |= lib.LYD_PRINT_WITHSIBLINGS
    buf = ffi.new("char **")
    if lib.lyd_print_mem(buf, node.cdata, lib.LYD_JSON, flags) != lib.LY_SUCCESS:
        raise RestconfError(500, "operation-failed", "cannot encode the data")
    try:
        return ffi.string(buf[0]).decode()
    finally:
        lib.free(buf[0])


def data_json(
    ctx: libyang.Context,
    wrapper: etree._Element,
    steps: list[Step],
    schema: Schema | None = None,
) -> bytes:
    """RFC 7951 JSON of the target of `steps` in `wrapper` (a copy with ancestors);
    of the whole wrapper as ietf-restconf:data when `steps` is empty. Leaves
    tagged wd:default (report-all-tagged; `schema` needed) carry RFC 7952's
    ietf-netconf-with-defaults:default annotation."""
    tagged = _tagged_paths(wrapper, schema) if schema is not None else []
    tree = _libyang_tree(ctx, wrapper)
    try:
        if tree is not None and tagged:
            from _libyang import lib

            for path in tagged:
                leaf = tree.find_path(path)
                if leaf is not None:
                    leaf.cdata.flags |= lib.LYD_DEFAULT
        if not steps:
            body = "{}" if tree is None else _print(tree, True, bool(tagged))
            return ('{"ietf-restconf:data":' + (body or "{}") + "}").encode()
        node = tree.find_path(xpath(steps)) if tree is not None else None
        if node is None:
            # A container with nothing in it (e.g. depth or content removed all)
            return ('{"' + f"{steps[-1].module}:{steps[-1].info.name}" + '":{}}').encode()
        return _print(node, False, bool(tagged)).encode()
    finally:
        if tree is not None:
            tree.free()


def data_xml(wrapper: etree._Element, target: etree._Element | None, whole: bool) -> bytes:
    if whole:
        out = etree.Element(f"{{{RC_NS}}}data", nsmap={None: RC_NS})
        for c in elements(wrapper):
            out.append(c)
        etree.cleanup_namespaces(out)
        return etree.tostring(out, xml_declaration=True, encoding="utf-8")
    ns = etree.QName(target).namespace
    copy = etree.Element(target.tag, nsmap={None: ns})
    copy.text = target.text
    for k, v in target.attrib.items():
        copy.set(k, v)
    for c in target:
        copy.append(c)
    etree.cleanup_namespaces(copy)
    return etree.tostring(copy, xml_declaration=True, encoding="utf-8")


# -- input ---------------------------------------------------------------------------------


def _json_depth_ok(text: str) -> bool:
    depth = 0
    in_string = escaped = False
    for c in text:
        if in_string:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif c in "]}":
            depth -= 1
    return True


def decode_body(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise bad_request("the body is not UTF-8", tag="malformed-message", type="rpc") from None


def parse_json_into(ctx: libyang.Context, text: str, parent_steps: list[Step]) -> etree._Element:
    """A JSON body of children of the node `parent_steps` names: a <config>
    wrapper holding that node's ancestors and the parsed children (XML)."""
    if not _json_depth_ok(text):
        raise bad_request(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    try:
        json.loads(text)  # one value, well-formed: libyang stops after the first object
    except (ValueError, RecursionError) as e:
        raise bad_request(
            f"the body is not JSON: {e}", tag="malformed-message", type="rpc"
        ) from None
    top = None
    try:
        if parent_steps:
            top = ctx.create_data_path(xpath(parent_steps))
            parent = top.find_path(xpath(parent_steps))
            ctx.parse_data_mem(text, "json", parent=parent, parse_only=True, strict=True)
        else:
            top = ctx.parse_data_mem(text, "json", parse_only=True, strict=True)
        xml = (
            ""
            if top is None
            else top.print_mem("xml", with_siblings=True, pretty=False, keep_empty_containers=True)
        )
    except libyang.LibyangError as e:
        raise bad_request(f"{e}".replace("failed to parse data tree: ", "")) from None
    finally:
        if top is not None:
            top.free()
    wrapper = etree.fromstring(f'<config xmlns="{NC_NS}">{xml}</config>', hardened_parser())
    return wrapper


def parse_xml(body: bytes) -> etree._Element:
    """One XML element (the body's root), with the NETCONF sessions' hardening."""
    try:
        root = etree.fromstring(body, hardened_parser())
    except etree.XMLSyntaxError as e:
        raise bad_request(
            f"the body is not XML: {e}", tag="malformed-message", type="rpc"
        ) from None
    count = sum(1 for _ in root.iter())
    if count > MAX_BODY_ELEMENTS:
        raise RestconfError(
            413, "too-big", f"the body has more than {MAX_BODY_ELEMENTS} elements", type="protocol"
        )
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        for name in el.attrib:
            if name.startswith(NC):
                raise bad_request(
                    "NETCONF operation attributes have no meaning in a RESTCONF body",
                    tag="unknown-attribute",
                    info=[("bad-attribute", etree.QName(name).localname)],
                )
    return root
