"""<get> of one top-level node as text: the configuration serialized once per
running snapshot, with each list entry's state text spliced in before the
entry's end tag.

What <get> otherwise does (state parsed into a tree, merged into a copy of
running by list keys, then serialized) cost 20-30x a get-config of the same
1,000 interfaces; splicing costs a join. The result is the same document as
that merge: state goes last in its entry, and state entries with no entry in
running follow the configured ones, in the order the state gives them.

Markers are processing instructions appended to a copy of the configuration:
serialized text can hold "<?" only where a node put it (text and attribute
values escape "<"), and the split is refused unless it finds exactly the
markers placed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from copy import deepcopy
from typing import Protocol

from lxml import etree

from agent.yangdata.key_index import KeyIndex
from agent.yangdata.schema_index import LIST, SNodeInfo
from agent.yangdata.xmltree import NC, NC_NS, elements, key_values

_PI = "memif-agent-state"
MARK = etree.tostring(etree.ProcessingInstruction(_PI))
DATA_OPEN = f'<data xmlns="{NC_NS}">'.encode()
DATA_CLOSE = b"</data>"
NO_DATA = f'<data xmlns="{NC_NS}"/>'.encode()

EntryKey = tuple[str, tuple[str, ...]]  # (list tag, key values)


class StateText(Protocol):
    """A state provider's text for one top-level node."""

    fragments: dict[EntryKey, bytes]  # an entry's state, without the entry

    tail: bytes  # children of the top-level node after every entry

    def entry(self, tag: str, keys: tuple[str, ...], state: bytes) -> bytes:
        """A whole entry holding `state`, for an entry running does not have."""
        ...

    def text(self) -> bytes:
        """The top-level element of the state alone."""
        ...


class _Parts:
    """A running snapshot's top-level node as text, cut where state goes."""

    def __init__(self, running: etree._Element, parts: list[bytes], keys: list[EntryKey]) -> None:
        self.running = running  # held: the cache is valid while it is running
        self.parts = parts
        self.keys = keys
        self.keyset = frozenset(keys)


class TopSplice:
    """State text for top-level node `tag`, read by `read`, spliced into the
    configuration (see the module docstring)."""

    def __init__(self, tag: str, read: Callable[[], Awaitable[StateText]]) -> None:
        self.tag = tag
        self.read = read
        self._parts: _Parts | None = None

    def has_cut(self, running: etree._Element) -> bool:
        """Whether `running`'s text is cut already (reply is then a join)."""
        return self._parts is not None and self._parts.running is running

    def reply(
        self, running: etree._Element, index: dict[str, SNodeInfo], state: StateText
    ) -> bytes | None:
        """The <data> element of a <get> selecting this whole node, as bytes; None
        when running's text cannot take state by splicing (then merge trees)."""
        top = next(running.iterchildren(self.tag), None)
        if top is None:
            return b"".join((DATA_OPEN, state.text(), DATA_CLOSE))
        parts = self._cut(running, top, index)
        if parts is None:
            return None
        frags = state.fragments
        pieces = parts.parts
        n = len(parts.keys)
        # pieces[0] state(0) pieces[1] ... state(n-1) pieces[n] <end marker> pieces[n+1]
        out: list[bytes] = [b""] * (2 * n + 1)
        out[0::2] = pieces[: n + 1]
        get = frags.get
        out[1::2] = [get(k, b"") for k in parts.keys]
        # The end marker: state entries running does not have, then the rest.
        keyset = parts.keyset
        extra = [state.entry(*key, st) for key, st in frags.items() if key not in keyset]
        return b"".join((DATA_OPEN, *out, *extra, state.tail, pieces[n + 1], DATA_CLOSE))

    def entries_reply(
        self,
        running: etree._Element,
        index: dict[str, SNodeInfo],
        state: StateText,
        wanted: list[EntryKey],
        keys: KeyIndex,
    ) -> bytes | None:
        """The <data> element of a <get> whose filter names list entries of this
        node by all their keys (each selected whole, in the filter's order, once),
        as bytes; None when it cannot be spliced."""
        info = index.get(self.tag)
        top = next(running.iterchildren(self.tag), None)
        if info is None or (top is not None and top.prefix is not None):
            return None
        data = etree.Element(NC + "data", nsmap={None: NC_NS})
        node = etree.SubElement(data, self.tag, nsmap={None: etree.QName(self.tag).namespace})
        marks: list[bytes] = []  # what each marker becomes, in order
        seen: set[EntryKey] = set()
        frags = state.fragments
        for key in wanted:
            if key in seen:
                continue
            seen.add(key)
            tag, kv = key
            ci = info.children.get(tag)
            if ci is None or ci.kind != LIST:
                return None
            entry = keys.entries(top, ci).get(kv) if top is not None else None
            frag = frags.get(key)
            if entry is not None:
                if entry.prefix is not None:
                    return None
                copy = deepcopy(entry)
                copy.tail = None
                copy.append(etree.ProcessingInstruction(_PI))
                node.append(copy)
                marks.append(frag or b"")
            elif frag is not None:
                node.append(etree.ProcessingInstruction(_PI))
                marks.append(state.entry(tag, kv, frag))
        if not marks:
            return NO_DATA  # as the subtree filter answers when nothing matches
        pieces = etree.tostring(data).split(MARK)
        if len(pieces) != len(marks) + 1:
            return None
        out: list[bytes] = [b""] * (2 * len(marks) + 1)
        out[0::2] = pieces
        out[1::2] = marks
        return b"".join(out)

    def _cut(
        self, running: etree._Element, top: etree._Element, index: dict[str, SNodeInfo]
    ) -> _Parts | None:
        cached = self._parts
        if cached is not None and cached.running is running:
            return cached
        info = index.get(self.tag)
        if info is None or top.prefix is not None:
            return None
        copy = deepcopy(top)
        keys: list[EntryKey] = []
        for child in elements(copy):
            ci = info.children.get(child.tag)
            if ci is None or ci.kind != LIST:
                continue
            # State text is unprefixed: it must land where the default namespace is
            # the entry's own.
            if child.prefix is not None:
                return None
            k = key_values(child, ci)
            if k is None:
                continue
            keys.append((child.tag, k))
            child.append(etree.ProcessingInstruction(_PI))
        copy.append(etree.ProcessingInstruction(_PI))
        pieces = etree.tostring(copy).split(MARK)
        if len(pieces) != len(keys) + 2:
            return None
        # The end marker follows the last entry's text: it must be the top's end tag.
        parts = _Parts(running, pieces, keys)
        self._parts = parts
        return parts
