"""The edit-config engine (RFC 6241 §7.2): applies an edit to a copy of a
datastore tree, operation by operation, using schema facts for list keys and
node kinds. Errors carry the data path of the node at fault."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from agent.errors import RpcError
from agent.yangdata.defaults import WD_ATTR
from agent.yangdata.schema_index import LEAF, LEAFLIST, LIST, SNodeInfo
from agent.yangdata.xmltree import (
    NC,
    elements,
    entries_by_key,
    find_match,
    key_values,
    new_element,
    shallow_with_keys,
    text_of,
)

OPERATIONS = ("merge", "replace", "create", "delete", "remove")
OP_ATTR = NC + "operation"
# RFC 6243 §4.5.2: "true"/"1" on a leaf means "set to its default".
_WD_VALUES = {"true": True, "1": True, "false": False, "0": False}


@dataclass
class EditResult:
    errors: list[RpcError] = field(default_factory=list)
    changed: bool = False
    # List entries created or modified (final nodes), for partial type checks.
    touched: list[etree._Element] = field(default_factory=list)
    # Of those, the entries that did not exist before; and the entries removed,
    # each with the parent it was removed from.
    created: list[etree._Element] = field(default_factory=list)
    removed: list[tuple[etree._Element, etree._Element]] = field(default_factory=list)
    # A container was created, replaced or removed: the change is not just a
    # set of list entries, so views derived per entry must be rebuilt whole.
    structural: bool = False


class _Stop(Exception):
    pass


class _Path:
    """A node's data path, formatted only when an error reports it: a bulk edit
    of 10,000 entries would otherwise format 40,000 paths that nobody reads."""

    __slots__ = ("_editor", "_el", "_info", "_parent", "_text")

    def __init__(
        self, editor: Editor, el: etree._Element, info: SNodeInfo | None, parent: str | _Path
    ) -> None:
        self._editor, self._el, self._info, self._parent = editor, el, info, parent
        self._text: str | None = None

    def __str__(self) -> str:
        if self._text is None:
            self._text = self._editor._step(self._el, self._info, str(self._parent))
        return self._text


class Editor:
    """Applies one <config> edit to `target` (a <config> wrapper) in place."""

    def __init__(
        self,
        index: dict[str, SNodeInfo],
        prefixes: dict[str, str],
        default_operation: str = "merge",
        continue_on_error: bool = False,
    ) -> None:
        self.index = index
        self.prefixes = prefixes  # namespace -> module name, for error paths
        self.default_operation = default_operation
        self.continue_on_error = continue_on_error
        self.result = EditResult()
        # Per (parent, list tag): key values -> entry, built on first use, so an
        # edit of n list entries costs O(n) rather than a sibling scan each.
        self._lists: dict[tuple[etree._Element, str], dict[tuple[str, ...], etree._Element]] = {}
        self._probes = 0

    def run(self, target: etree._Element, edit: etree._Element) -> EditResult:
        try:
            self._children(target, edit, self.index, self.default_operation, "")
        except _Stop:
            pass
        return self.result

    # -- errors ----------------------------------------------------------------------------

    def _fail(self, err: RpcError) -> None:
        self.result.errors.append(err)
        if not self.continue_on_error:
            raise _Stop

    def _step(self, el: etree._Element, info: SNodeInfo | None, parent_path: str | _Path) -> str:
        q = etree.QName(el)
        prefix = self.prefixes.get(q.namespace or "", "")
        step = f"{parent_path}/{prefix}:{q.localname}" if prefix else f"{parent_path}/{q.localname}"
        if info is not None and info.kind == LIST:
            for ktag in info.keys:
                k = el.find(ktag)
                if k is not None:
                    kname = ktag.split("}", 1)[1]
                    step += f"[{prefix}:{kname}='{text_of(k)}']"
        elif info is not None and info.kind == LEAFLIST:
            step += f"[.='{text_of(el)}']"
        return step

    # -- the walk ------------------------------------------------------------------------------

    def _children(
        self,
        target: etree._Element,
        edit: etree._Element,
        schema: dict[str, SNodeInfo],
        inherited: str,
        path: str | _Path,
        skip: tuple[str, ...] = (),
    ) -> None:
        """Apply `edit`'s children to `target`; tags in `skip` (an entry's keys,
        which only address it) are left out."""
        for el in elements(edit):
            if el.tag in skip:
                continue
            info = schema.get(el.tag)
            if info is None or not info.config:
                self._unknown(el, info, path)
                continue
            op = el.get(OP_ATTR, inherited)
            if op not in OPERATIONS and op != "none":
                self._fail(
                    RpcError(
                        "bad-attribute",
                        f"operation '{op}' is not one of {', '.join(OPERATIONS)}",
                        type="protocol",
                        path=self._step(el, info, path),
                        info=[("bad-attribute", "operation"), ("bad-element", info.name)],
                    )
                )
                continue
            op = self._attributes(el, info, path, op)
            if op is None:
                continue
            keys = key_values(el, info) if info.kind == LIST else None
            if info.kind == LIST and keys is None:
                missing = [k.split("}", 1)[1] for k in info.keys if el.find(k) is None]
                self._fail(
                    RpcError(
                        "missing-element",
                        f"list entry {info.name} needs its key {', '.join(missing)}",
                        type="protocol",
                        path=self._step(el, info, path),
                        info=[("bad-element", missing[0])],
                    )
                )
                continue
            self._node(target, el, info, op, path, keys)

    def _attributes(
        self, el: etree._Element, info: SNodeInfo, path: str | _Path, op: str
    ) -> str | None:
        """The operation for `el` after its attributes, or None after an error.
        Only nc:operation and, on leaves, wd:default mean something on a data node;
        anything else would be silently ignored, so it is refused (RFC 6241 App. A)."""
        for name, value in el.attrib.items():
            if name == OP_ATTR:
                continue
            q = etree.QName(name)
            if name == WD_ATTR and info.kind == LEAF:
                op = self._wd_default(el, info, path, op, value)
                if op is None:
                    return None
                continue
            self._fail(
                RpcError(
                    "unknown-attribute",
                    f"attribute '{q.localname}'"
                    + (f" ({q.namespace})" if q.namespace else "")
                    + f" is not known on {info.name}",
                    type="protocol",
                    path=self._step(el, info, path),
                    info=[("bad-attribute", q.localname), ("bad-element", info.name)],
                )
            )
            return None
        return op

    def _wd_default(
        self, el: etree._Element, info: SNodeInfo, path: str | _Path, op: str, value: str
    ) -> str | None:
        here = self._step(el, info, path)
        flag = _WD_VALUES.get(value.strip())
        if flag is None:
            self._fail(
                RpcError(
                    "bad-attribute",
                    f"wd:default '{value[:40]}' is not true or false",
                    type="protocol",
                    path=here,
                    info=[("bad-attribute", "default"), ("bad-element", info.name)],
                )
            )
            return None
        if not flag or op in ("delete", "remove", "create"):
            return op
        if info.default is None or text_of(el).strip() != info.default:
            self._fail(
                RpcError(
                    "invalid-value",
                    f"{info.name} '{text_of(el)[:40]}' is tagged wd:default but its default "
                    + (f"is '{info.default}'" if info.default is not None else "does not exist"),
                    path=here,
                    info=[("bad-element", info.name)],
                )
            )
            return None
        # Set to its default: the leaf is no longer set explicitly (basic-mode explicit).
        return "default"

    def _unknown(self, el: etree._Element, info: SNodeInfo | None, path: str | _Path) -> None:
        q = etree.QName(el)
        path = str(path)
        if info is not None:  # config false
            self._fail(
                RpcError(
                    "invalid-value",
                    f"{q.localname} is state data and cannot be configured",
                    path=self._step(el, info, path),
                )
            )
        elif q.namespace and q.namespace not in self.prefixes:
            self._fail(
                RpcError(
                    "unknown-namespace",
                    f"no YANG module of this server has namespace {q.namespace}",
                    type="application",
                    path=path or "/",
                    info=[("bad-element", q.localname), ("bad-namespace", q.namespace)],
                )
            )
        else:
            where = path or "the top level"
            self._fail(
                RpcError(
                    "unknown-element",
                    f"unknown element '{q.localname}' in {where}",
                    path=path or "/",
                    info=[("bad-element", q.localname)],
                )
            )

    def _entries(self, target: etree._Element, info: SNodeInfo) -> dict:
        idx = self._lists.get((target, info.tag))
        if idx is None:
            idx = entries_by_key(target, info)
            self._lists[(target, info.tag)] = idx
        return idx

    def _find(
        self,
        target: etree._Element,
        el: etree._Element,
        info: SNodeInfo,
        keys: tuple[str, ...] | None,
    ):
        """The node `el` addresses in `target`; `keys`: a list entry's key values."""
        if info.kind != LIST:
            return find_match(target, el, info)
        if (target, info.tag) not in self._lists and self._probes < 16 and keys is not None:
            # A small edit of a big list: where the entry was last seen, then a
            # few XPath lookups (libxml2, in C), beat a key index of every entry.
            hinted = _at_hint(target, info, keys)
            if hinted is not None:
                return hinted
            self._probes += 1
            found = _key_xpath(info)(target, **{f"k{i}": _xml_space(v) for i, v in enumerate(keys)})
            for cand in found:
                if key_values(cand, info) == keys:  # XPath also folds inner spaces
                    _remember_position(target, info, keys, cand)
                    return cand
            return None
        return self._entries(target, info).get(keys)

    def _track(
        self,
        target: etree._Element,
        info: SNodeInfo,
        node,
        keys: tuple[str, ...] | None,
        removed: bool = False,
        created: bool = False,
    ) -> None:
        """Note a change to `node`; `keys`: its key values if it is a list entry
        (those of the edit node that addressed it: equal by construction)."""
        if info.kind not in (LIST, LEAF, LEAFLIST):
            self.result.structural = True
        if info.kind == LIST:
            if removed:
                self.result.removed.append((target, node))
            else:
                self.result.touched.append(node)
                if created:
                    self.result.created.append(node)
                    # Small edits only: index() walks the siblings, which a bulk
                    # create of 10,000 entries cannot afford per entry.
                    if keys is not None and (target, info.tag) not in self._lists:
                        _remember_position(target, info, keys, node)
            idx = self._lists.get((target, info.tag))
            if idx is None:
                return  # no index yet: it will be built from the tree as it is then
            if removed:
                idx.pop(keys, None)
            else:
                idx[keys] = node

    def _node(
        self,
        target: etree._Element,
        el: etree._Element,
        info: SNodeInfo,
        op: str,
        path: str | _Path,
        keys: tuple[str, ...] | None,
    ) -> None:
        match = self._find(target, el, info, keys)
        here = _Path(self, el, info, path)
        if op == "default":
            if match is not None:
                target.remove(match)
                self.result.changed = True
            return
        if op == "none" and match is None and (info.kind == LIST or info.presence):
            # RFC 6241 §7.2: under "none", edit data without a corresponding level in the
            # datastore is data-missing: a list entry or presence container is a level;
            # a non-presence container always exists, a leaf is no level.
            self._fail(RpcError("data-missing", f"{here} does not exist", path=str(here)))
            return
        if op == "create" and match is not None:
            self._fail(RpcError("data-exists", f"{here} already exists", path=str(here)))
            return
        if op == "delete" and match is None:
            self._fail(RpcError("data-missing", f"{here} does not exist", path=str(here)))
            return
        if op in ("delete", "remove"):
            if match is not None:
                target.remove(match)
                self._track(target, info, match, keys, removed=True)
                self.result.changed = True
            return
        if op in ("replace", "create"):
            new = self._build(el, info, here)
            if new is None:
                return
            if match is not None:
                target.replace(match, new)
                if info.kind == LIST:
                    self.result.removed.append((target, match))
            else:
                target.append(new)
            self._track(target, info, new, keys, created=match is None)
            self.result.changed = True
            return
        # merge, or none (touch only what carries an operation)
        if info.kind in (LEAF, LEAFLIST):
            if op == "none":
                return
            if match is None:
                _leaf_copy(el, target)
                self.result.changed = True
            elif info.kind == LEAF and text_of(match) != text_of(el):
                target.replace(match, _leaf_copy(el))
                self.result.changed = True
            return
        created = match is None
        if created:
            match = shallow_with_keys(el, info)
        elif info.kind == LIST:
            self.result.touched.append(match)
        self._children(match, el, info.children, op, here, _keys_of(info))
        if created and (op != "none" or len(match) > len(info.keys)):
            target.append(match)
            self._track(target, info, match, keys, created=True)
            self.result.changed = True

    def _build(self, el: etree._Element, info: SNodeInfo, here: _Path) -> etree._Element | None:
        """A clean copy of `el` for replace/create: operations applied to its subtree
        (delete inside a new node is data-missing, remove is a no-op)."""
        if info.kind in (LEAF, LEAFLIST):
            return _leaf_copy(el)
        new = shallow_with_keys(el, info)
        before = len(self.result.errors)
        self._children(new, el, info.children, "merge", here, _keys_of(info))
        if len(self.result.errors) != before:
            return None
        return new


def _leaf_copy(el: etree._Element, parent: etree._Element | None = None) -> etree._Element:
    """A leaf with its value (appended to `parent` if given) and, if the value
    could name one, the namespace prefixes in scope: values such as
    instance-identifiers and identityrefs name prefixes declared in the edit."""
    text = el.text or ""  # raw: a string value may end in spaces
    if ":" not in text:
        new = new_element(el.tag, parent)
        new.text = text
        return new
    ns = etree.QName(el).namespace
    nsmap = {p: u for p, u in el.nsmap.items() if p is not None}
    nsmap[None] = ns
    new = etree.Element(el.tag, nsmap=nsmap)
    new.text = text
    if parent is not None:
        parent.append(new)
    return new


def _keys_of(info: SNodeInfo) -> tuple[str, ...]:
    return info.keys if info.kind == LIST else ()


_XML_SPACE = re.compile(r"[ \t\r\n]+")


def _xml_space(value: str) -> str:
    """`value` as XPath normalize-space() would give it."""
    return _XML_SPACE.sub(" ", value).strip(" ")


_KEY_XPATHS: dict[tuple[str, tuple[str, ...]], etree.XPath] = {}


def _key_xpath(info: SNodeInfo) -> etree.XPath:
    """Compiled `list[key0=$k0][key1=$k1]...` for one list, key values as variables
    (never spliced into the expression, so any value is safe)."""
    xp = _KEY_XPATHS.get((info.tag, info.keys))
    if xp is None:
        tags = (info.tag, *info.keys)
        nsmap = {f"n{i}": t[1:].split("}", 1)[0] for i, t in enumerate(tags) if t[0] == "{"}

        def step(i: int, tag: str) -> str:
            return f"n{i}:{tag.split('}', 1)[1]}" if tag[0] == "{" else tag

        expr = step(0, info.tag) + "".join(
            f"[normalize-space({step(i + 1, k)})=$k{i}]" for i, k in enumerate(info.keys)
        )
        xp = _KEY_XPATHS[(info.tag, info.keys)] = etree.XPath(expr, namespaces=nsmap)
    return xp


# (list tag, key values) -> the child index the entry last had. Datastore trees
# are copied on every edit with their order kept, so the next edit of the same
# entry usually finds it there: a C-level walk to that index and one key check
# instead of a search. Only a hint: a miss or a mismatch falls back to XPath.
_POSITIONS: dict[tuple[str, tuple[str, ...]], int] = {}
_POSITIONS_MAX = 100_000


def _at_hint(
    target: etree._Element, info: SNodeInfo, keys: tuple[str, ...]
) -> etree._Element | None:
    pos = _POSITIONS.get((info.tag, keys))
    if pos is None or pos >= len(target):
        return None
    cand = target[pos]
    if cand.tag == info.tag and key_values(cand, info) == keys:
        return cand
    return None


def _remember_position(
    target: etree._Element, info: SNodeInfo, keys: tuple[str, ...], node: etree._Element
) -> None:
    if len(_POSITIONS) >= _POSITIONS_MAX:
        _POSITIONS.clear()
    _POSITIONS[(info.tag, keys)] = target.index(node)
