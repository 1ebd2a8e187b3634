"""RFC 8040 §3.3.2 and §4.4.2: {+restconf}/operations lists the operations and
POST {+restconf}/operations/<module>:<name> runs one. Input and output are
converted by libyang (RPC_YANG and REPLY_YANG); the handler is the NETCONF one,
behind the same NACM operation check.
"""

from __future__ import annotations

import json

import libyang
from libyang import DataType
from lxml import etree

from agent.netconf.session import hardened_parser
from agent.restconf import encoding, paths
from agent.restconf.core import Core
from agent.restconf.errors import RC_NS, bad_request, not_found
from agent.restconf.resources import Reply
from agent.yangdata.xmltree import elements


class Operations:
    def __init__(self, core: Core, schema: paths.Schema) -> None:
        self.core = core
        self.schema = schema

    def listing(self, fmt: str) -> Reply:
        ops = self.core.rpcs()
        if fmt == "json":
            members = {f"{self.schema.module_of.get(ns, '')}:{name}": [None] for ns, name in ops}
            body = json.dumps({"ietf-restconf:operations": members}).encode()
        else:
            root = etree.Element(f"{{{RC_NS}}}operations", nsmap={None: RC_NS})
            for ns, name in ops:
                etree.SubElement(root, f"{{{ns}}}{name}", nsmap={None: ns})
            body = etree.tostring(root, xml_declaration=True, encoding="utf-8")
        return Reply(200, body, encoding.content_type(fmt))

    def _resolve(self, tail: str) -> tuple[str, str, str]:
        ident = tail.strip("/")
        if "/" in ident:
            raise not_found(f"no operation {ident[:100]!r}")
        module, name = paths.split_identifier(paths._decode(ident, "an operation"), "operation")
        if module is None:
            raise bad_request(f"an operation is named module:name, not {name!r}")
        ns = self.schema.ns_of.get(module)
        if ns is None or (ns, name) not in self.core.rpcs():
            raise not_found(f"no operation {module}:{name}")
        return module, ns, name

    def _input(self, module: str, ns: str, name: str, body: bytes, fmt: str) -> etree._Element:
        if not body.strip():
            return etree.Element(f"{{{ns}}}{name}", nsmap={None: ns})
        if fmt == "json":
            text = encoding.decode_body(body)
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as e:
                raise bad_request(f"the body is not JSON: {e}", tag="malformed-message") from None
            if not isinstance(doc, dict) or list(doc) != [f"{module}:input"]:
                raise bad_request(f'the input is {{"{module}:input": {{...}}}}')
            try:
                node = self.core.schema.parse_op_mem(
                    "json",
                    json.dumps({f"{module}:{name}": doc[f"{module}:input"]}),
                    dtype=DataType.RPC_YANG,
                )
                xml = node.print_mem("xml", pretty=False)
                node.free()
            except libyang.LibyangError as e:
                raise bad_request(str(e).replace("failed to parse input data: ", "")) from None
            return etree.fromstring(xml, hardened_parser())
        root = encoding.parse_xml(body)
        if root.tag != f"{{{ns}}}input":
            raise bad_request(f'the input is <input xmlns="{ns}">')
        op = etree.Element(f"{{{ns}}}{name}", nsmap={None: ns})
        for c in elements(root):
            op.append(c)
        return op

    async def invoke(
        self, user: str, peer: str, tail: str, body: bytes, in_fmt: str, out_fmt: str
    ) -> Reply:
        module, ns, name = self._resolve(tail)
        op = self._input(module, ns, name, body, in_fmt)
        result = await self.core.rpc(user, peer, op)
        if result is None:
            return Reply(204)
        items = result if isinstance(result, list) else [result]
        out = etree.Element(f"{{{ns}}}output", nsmap={None: ns})
        for item in items:
            if isinstance(item, etree._Element):
                out.append(item)
        if out_fmt == "xml":
            return Reply(
                200, etree.tostring(out, xml_declaration=True, encoding="utf-8"), encoding.XML
            )
        reply = etree.Element(f"{{{ns}}}{name}", nsmap={None: ns})
        for c in list(out):
            reply.append(c)
        try:
            node = self.core.schema.parse_op_mem(
                "xml", etree.tostring(reply).decode(), dtype=DataType.REPLY_YANG
            )
            text = node.print_mem("json", pretty=False)
            node.free()
        except libyang.LibyangError as e:
            raise bad_request(f"cannot encode the output: {e}", tag="operation-failed") from None
        inner = json.loads(text).get(f"{module}:{name}", {})
        return Reply(200, json.dumps({f"{module}:output": inner}).encode(), encoding.JSON)
