"""RFC 8040 §3.5.3 api-paths: parsed against the schema into steps, and from
steps to XML skeletons, tree lookups and instance XPaths.

The raw (still percent-encoded) path is split at "/" and "," before decoding,
so an encoded "/" or "," inside a key value stays part of the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from lxml import etree

from agent.restconf.errors import RestconfError, bad_request
from agent.yangdata.schema_index import LEAFLIST, LIST, SNodeInfo
from agent.yangdata.xmltree import NC, NC_NS, elements

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
# Path segments per request: the model is six levels deep.
MAX_STEPS = 32
MAX_PATH = 4096


@dataclass(frozen=True)
class Step:
    info: SNodeInfo
    module: str  # the module name of this node
    values: tuple[str, ...] | None  # list keys or leaf-list value, in order

    @property
    def ns(self) -> str:
        return self.info.tag[1:].split("}", 1)[0]


def _decode(text: str, what: str) -> str:
    try:
        value = unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise bad_request(f"{what} is not UTF-8 once percent-decoded") from None
    if any(ord(c) < 0x20 or c == "\x7f" for c in value):
        raise bad_request(f"{what} holds a control character")
    return value


def split_identifier(text: str, what: str = "path") -> tuple[str | None, str]:
    """api-identifier: [module ":"] name, both YANG identifiers."""
    module, sep, name = text.rpartition(":")
    if not sep:
        module, name = None, text
    for part in (module, name) if module is not None else (name,):
        if not _IDENT.match(part):
            raise bad_request(f"{what}: {part[:64]!r} is not a YANG identifier")
    return module, name


class Schema:
    """Module names <-> namespaces, and the top-level nodes, for path resolution."""

    def __init__(self, index: dict[str, SNodeInfo], modules: dict[str, str]) -> None:
        self.index = index
        self.ns_of = modules  # module name -> namespace
        self.module_of = {ns: name for name, ns in modules.items()}

    def child(
        self, parent: dict[str, SNodeInfo], module: str | None, name: str, inherited: str | None
    ) -> tuple[SNodeInfo, str]:
        mod = module or inherited
        if mod is None:
            raise bad_request(f"{name}: the first node of a path needs its module (module:{name})")
        ns = self.ns_of.get(mod)
        if ns is None:
            raise bad_request(f"no module {mod!r}", tag="unknown-namespace")
        info = parent.get(f"{{{ns}}}{name}")
        if info is None:
            raise RestconfError(
                404, "invalid-value", f"no data node {mod}:{name} here", type="protocol"
            )
        return info, mod

    def step_of(self, el: etree._Element, parent_steps: list[Step]) -> Step:
        """The step naming element `el` (a child of the node `parent_steps` names)."""
        children = parent_steps[-1].info.children if parent_steps else self.index
        info = children.get(el.tag)
        ns = etree.QName(el).namespace or ""
        module = self.module_of.get(ns)
        if info is None or module is None:
            raise RestconfError(
                400,
                "unknown-element",
                f"{etree.QName(el).localname} is not a data node here",
                type="application",
                info=[("bad-element", etree.QName(el).localname)],
            )
        values = None
        if info.kind == LIST:
            values = []
            for k in info.keys:
                kel = el.find(k)
                if kel is None:
                    raise bad_request(
                        f"the new {info.name} entry needs its key {k.split('}', 1)[1]}",
                        tag="missing-element",
                        info=[("bad-element", k.split("}", 1)[1])],
                    )
                values.append((kel.text or "").strip())
            values = tuple(values)
        elif info.kind == LEAFLIST:
            values = ((el.text or "").strip(),)
        return Step(info, module, values)

    def parse(self, raw: str) -> list[Step]:
        """Steps of a raw api-path below {+restconf}/data (no leading "/" needed)."""
        if len(raw) > MAX_PATH:
            raise RestconfError(
                413, "too-big", f"the path is longer than {MAX_PATH} characters", type="protocol"
            )
        segments = raw.split("/")
        if segments and segments[0] == "":
            segments = segments[1:]
        if segments and segments[-1] == "":
            segments = segments[:-1]
        if len(segments) > MAX_STEPS:
            raise bad_request(f"the path has more than {MAX_STEPS} steps")
        steps: list[Step] = []
        children = self.index
        module: str | None = None
        for seg in segments:
            ident, eq, rest = seg.partition("=")
            mod, name = split_identifier(_decode(ident, "a path step"))
            info, module = self.child(children, mod, name, module)
            values = None
            if eq:
                values = tuple(_decode(v, f"a key of {name}") for v in rest.split(","))
            steps.append(self._check(info, module, name, values))
            children = info.children
        return steps

    @staticmethod
    def _check(info: SNodeInfo, module: str, name: str, values) -> Step:
        if info.kind == LIST:
            if values is None:
                keys = ",".join(f"<{k.split('}', 1)[1]}>" for k in info.keys)
                raise bad_request(f"a {name} entry is named by its keys: {name}={keys}")
            if len(values) != len(info.keys):
                raise bad_request(
                    f"{name} has {len(info.keys)} key(s) "
                    f"({', '.join(k.split('}', 1)[1] for k in info.keys)}), not {len(values)}"
                )
        elif info.kind == LEAFLIST:
            if values is None or len(values) != 1:
                raise bad_request(f"a {name} value is named as {name}=<value>")
        elif values is not None:
            raise bad_request(f"{name} is a {info.kind}: it takes no '=' value")
        return Step(info, module, values)


def xpath(steps: list[Step]) -> str:
    """The instance-identifier of the node (module-name prefixes, as in error-path)."""
    out = []
    prev = None
    for s in steps:
        name = s.info.name if s.module == prev else f"{s.module}:{s.info.name}"
        out.append("/" + name)
        prev = s.module
        if s.info.kind == LIST:
            for k, v in zip(s.info.keys, s.values or (), strict=True):
                out.append(f"[{k.split('}', 1)[1]}={_quote(v)}]")
        elif s.info.kind == LEAFLIST:
            out.append(f"[.={_quote(s.values[0])}]")
    return "".join(out) or "/"


def _quote(v: str) -> str:
    if "'" not in v:
        return f"'{v}'"
    if '"' not in v:
        return f'"{v}"'
    return "concat('" + "', \"'\", '".join(v.split("'")) + "')"


def location(steps: list[Step]) -> str:
    """The api-path of the node, percent-encoded (a Location header)."""
    from urllib.parse import quote

    out = []
    prev = None
    for s in steps:
        name = s.info.name if s.module == prev else f"{s.module}:{s.info.name}"
        prev = s.module
        if s.values is not None:
            name += "=" + ",".join(quote(v, safe="") for v in s.values)
        out.append(name)
    return "/".join(out)


def new_node(step: Step, parent: etree._Element) -> etree._Element:
    """`step`'s node under `parent`, with its key leaves (or leaf-list value)."""
    el = etree.SubElement(parent, step.info.tag, nsmap=_nsmap(step, parent))
    if step.info.kind == LIST:
        for k, v in zip(step.info.keys, step.values, strict=True):
            etree.SubElement(el, k).text = v
    elif step.info.kind == LEAFLIST:
        el.text = step.values[0]
    return el


def _nsmap(step: Step, parent: etree._Element) -> dict | None:
    ns = step.ns
    return None if parent.nsmap.get(None) == ns else {None: ns}


def skeleton(steps: list[Step]) -> tuple[etree._Element, etree._Element]:
    """A <config> wrapper holding the ancestors of the last step (with their keys)
    and the element that is the last step's parent."""
    root = etree.Element(NC + "config", nsmap={None: NC_NS, "nc": NC_NS})
    parent = root
    for s in steps[:-1]:
        parent = new_node(s, parent)
    return root, parent


def chain(steps: list[Step]) -> tuple[etree._Element, etree._Element]:
    """A <config> wrapper holding the node `steps` names (keys only) under its
    ancestors, and that node (the wrapper itself for no steps)."""
    root, parent = skeleton(steps)
    return (root, new_node(steps[-1], parent)) if steps else (root, root)


def matches(el: etree._Element, step: Step) -> bool:
    if el.tag != step.info.tag:
        return False
    if step.info.kind == LIST:
        for k, v in zip(step.info.keys, step.values, strict=True):
            kel = el.find(k)
            if kel is None or (kel.text or "").strip() != v.strip():
                return False
    elif step.info.kind == LEAFLIST:
        return (el.text or "").strip() == step.values[0].strip()
    return True


def find(tree: etree._Element, steps: list[Step]) -> etree._Element | None:
    """The node `steps` name in `tree` (a wrapper of top-level nodes), or None."""
    node = tree
    for s in steps:
        node = next((c for c in node.iterchildren(s.info.tag) if matches(c, s)), None)
        if node is None:
            return None
    return node


def copy_with_ancestors(
    tree: etree._Element, steps: list[Step], wrapper_tag: str
) -> tuple[etree._Element, etree._Element | None]:
    """A new `wrapper_tag` element holding the target node of `tree` (a deep copy)
    under copies of its ancestors (keys only); (wrapper, copy of the target or None)."""
    from copy import deepcopy

    out = etree.Element(wrapper_tag)
    if not steps:
        for c in elements(tree):
            out.append(deepcopy(c))
        return out, out
    node, parent = tree, out
    for i, s in enumerate(steps):
        node = next((c for c in node.iterchildren(s.info.tag) if matches(c, s)), None)
        if node is None:
            return out, None
        if i == len(steps) - 1:
            target = deepcopy(node)
            parent.append(target)
            return out, target
        parent = new_node(s, parent)
    return out, None
