"""RFC 6243 with-defaults: the agent stores what was set (basic mode explicit)
and adds or trims default leaves on the way out."""

from __future__ import annotations

from lxml import etree

from agent.yangdata.params import one_of, rpc_path
from agent.yangdata.schema_index import CONTAINER, LEAF, LIST, SNodeInfo
from agent.yangdata.xmltree import elements, new_element, text_of, with_nsmap

WD_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
MODES = ("report-all", "trim", "explicit", "report-all-tagged")
CAPABILITY = (
    "urn:ietf:params:netconf:capability:with-defaults:1.0"
    "?basic-mode=explicit&also-supported=report-all,trim,report-all-tagged"
)
# RFC 8526 3.1.1.2: with-defaults also applies to get-data on ds:operational.
OPERATIONAL_CAPABILITY = CAPABILITY.replace(":with-defaults:", ":with-operational-defaults:")


_WD_TAG = f"{{{WD_NS}}}with-defaults"
WD_ATTR = f"{{{WD_ATTR_NS}}}default"


def mode_of(op: etree._Element) -> str:
    el = next(op.iterchildren(_WD_TAG), None)
    return one_of(el, "with-defaults", MODES, "explicit", rpc_path(op, _WD_TAG))


REPORT_ALL = ("report-all", "report-all-tagged")


def apply(data: etree._Element, mode: str, index: dict[str, SNodeInfo]) -> None:
    """Rewrite `data` (a <data> wrapper) in place for `mode`. In the report-all
    modes, non-presence config containers that hold defaults appear even where
    they were never created (e.g. /nacm with its five defaults); state comes
    from the state providers as it is."""
    if mode == "explicit":
        return
    present = {c.tag for c in elements(data)}
    for top in elements(data):
        info = index.get(top.tag)
        if info is not None:
            _walk(top, info, mode)
    if mode in REPORT_ALL:
        for tag, info in index.items():
            if tag not in present:
                _implicit_container(data, info, mode)


def _implicit_container(parent: etree._Element, info: SNodeInfo, mode: str) -> None:
    """Add a non-presence container that is not there, if it has defaults to show."""
    if info.kind != CONTAINER or info.presence or not info.config:
        return
    el = new_element(info.tag, parent)
    _walk(el, info, mode)
    if len(el) == 0:
        parent.remove(el)


def _walk(el: etree._Element, info: SNodeInfo, mode: str) -> None:
    if info.kind not in (CONTAINER, LIST):
        return
    present = {c.tag: c for c in elements(el)}
    for tag, ci in info.children.items():
        child = present.get(tag)
        if child is None and ci.kind == CONTAINER and mode in REPORT_ALL:
            _implicit_container(el, ci, mode)
            continue
        if ci.kind == LEAF and ci.default is not None and tag not in info.keys:
            if child is None:
                if mode in ("report-all", "report-all-tagged") and _when_ok(el, ci):
                    new = new_element(tag, el)
                    new.text = ci.default
                    if mode == "report-all-tagged":
                        new.set(WD_ATTR, "true")
            elif text_of(child) == ci.default:
                if mode == "trim":
                    el.remove(child)
                elif mode == "report-all-tagged":
                    child.set(WD_ATTR, "true")
    for child in elements(el):
        ci = info.children.get(child.tag)
        if ci is not None and child.tag in present:  # new containers were walked already
            _walk(child, ci, mode)


def tidy(data: etree._Element, keep: bool) -> etree._Element:
    """`data` (a reply's <data>) with its wd:default tags declared once, on it, as
    prefix wd (lxml declares ns0, ns1, ... on each tagged leaf), or with the tags
    removed (keep False: they were only needed inside the agent)."""
    tagged = [el for el in data.iter() if WD_ATTR in el.attrib]
    if not tagged:
        return data
    others: set[str] = set()
    for el in tagged:
        del el.attrib[WD_ATTR]
    for el in data.iter():
        others.update(p for p, uri in el.nsmap.items() if p and uri != WD_ATTR_NS)
    nsmap = {p: uri for p, uri in data.nsmap.items() if uri != WD_ATTR_NS}
    if keep:
        nsmap["wd"] = WD_ATTR_NS
        others.add("wd")
    out = with_nsmap(data, nsmap)
    # Prefixes other than the tags' stay even when no name uses them: identity
    # values (ianaift:...) do.
    etree.cleanup_namespaces(out, keep_ns_prefixes=sorted(others))
    if keep:
        for el in tagged:
            el.set(WD_ATTR, "true")
    return out


def _when_ok(parent: etree._Element, leaf: SNodeInfo) -> bool:
    # The memif model's only `when` guards rx/tx-queues (client role only);
    # a default must not appear where the leaf itself would be invalid.
    if leaf.name in ("rx-queues", "tx-queues"):
        role = parent.find(leaf.tag.replace(leaf.name, "role"))
        return role is not None and text_of(role) == "client"
    return True
