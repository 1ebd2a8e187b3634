"""Requests for the RPC fuzzer: the corpus mutated, and swept with odd values.

Request (the framed bytes, the message and a note of what was done to it);
`requests`, the hypothesis strategy that takes a corpus request and applies a
few MUTATIONS (elements dropped, duplicated, moved, renamed, put in other
namespaces, nested deep or grafted; odd values and attributes; the envelope or
the bytes corrupted); and `sweep()`, the deterministic pass giving each leaf and
attribute of the corpus, in turn, the SWEEP values and each element the
SWEEP_ATTRS.
"""

from __future__ import annotations

from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass

from agent_harness import chunk, rpc
from hypothesis import strategies as st
from lxml import etree
from rpc_fuzz_corpus import (
    ATTRS,
    ENVELOPE_ATTRS,
    MESSAGE_IDS,
    NAMES,
    NAMESPACES,
    NC,
    OPERATIONS,
    OPS,
    VALUES,
)

# Mutation kinds, repeated to weight how often each is drawn.
MUTATIONS = [
    *("drop",) * 3,
    *("dup",) * 2,
    *("move",) * 2,
    *("text",) * 5,
    *("rename",) * 2,
    *("namespace",) * 2,
    *("attr",) * 3,
    "nest",
    *("graft",) * 2,
    *("leaf",) * 2,
    "comment",
    "envelope",
    "unqualify",
    "bytes",
]


@dataclass
class Request:
    wire: bytes  # framed
    raw: bytes  # the message
    note: str  # mutations applied, for the report


def _set(el: etree._Element, name: str, value: str) -> None:
    try:
        el.set(name, value)
    except ValueError:  # not XML-safe for lxml: skip this mutation
        pass


def _text(el: etree._Element, value) -> None:
    try:
        el.text = value
    except ValueError:
        pass


@st.composite
def requests(draw) -> Request:
    root = etree.Element(f"{{{NC}}}rpc", nsmap={None: NC})
    mid = draw(MESSAGE_IDS)
    _set(root, "message-id", mid)
    for name, value in draw(ENVELOPE_ATTRS):
        _set(root, name, value)
    root.append(deepcopy(OPS[draw(st.integers(0, len(OPS) - 1))]))
    notes: list[str] = []
    corrupt = None
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(MUTATIONS))
        nodes = list(root.iter(etree.Element))
        # Mostly inside the operation: the envelope and the operation element
        # themselves are hit one time in eight.
        if len(nodes) > 2 and draw(st.integers(0, 7)):
            nodes = nodes[2:]
        elif kind in ("drop", "dup", "move"):
            nodes = nodes[1:]
        # Values go mostly into leaves, where the agent reads them.
        leaves = [n for n in nodes if len(n) == 0]
        if kind == "text" and leaves and draw(st.integers(0, 3)):
            nodes = leaves
        if not nodes:
            continue
        node = nodes[draw(st.integers(0, len(nodes) - 1))]
        notes.append(f"{kind}:{etree.QName(node).localname}")
        parent = node.getparent()
        if kind == "drop":
            parent.remove(node)
        elif kind == "dup":
            for _ in range(draw(st.integers(1, 3))):
                node.addnext(deepcopy(node))
        elif kind == "move":
            if draw(st.booleans()):
                parent[:] = list(reversed(parent))
            else:
                parent.insert(draw(st.integers(0, len(parent))), node)
        elif kind == "text":
            if draw(st.booleans()):
                for c in list(node):
                    node.remove(c)
            if draw(st.integers(0, 9)) == 0:
                value = draw(VALUES)
                if "]]>" not in value:
                    _text(node, etree.CDATA(value) if value else value)
            else:
                _text(node, draw(VALUES))
        elif kind == "rename":
            ns = etree.QName(node).namespace
            name = draw(st.sampled_from(NAMES))
            node.tag = f"{{{ns}}}{name}" if ns else name
        elif kind == "namespace":
            ns = draw(st.sampled_from(NAMESPACES))
            node.tag = f"{{{ns}}}{etree.QName(node).localname}"
        elif kind == "attr":
            name = draw(st.sampled_from(ATTRS))
            value = draw(st.sampled_from(OPERATIONS) if "operation" in name else VALUES)
            _set(node, name, value)
        elif kind == "nest":
            # libxml2 refuses documents deeper than 256 levels: both sides of it.
            depth = draw(st.integers(1, 300))
            ns = etree.QName(node).namespace
            name = draw(st.sampled_from([etree.QName(node).localname, *NAMES]))
            tag = f"{{{ns}}}{name}" if ns else name
            cur = node
            for _ in range(depth):
                cur = etree.SubElement(cur, tag)
            if draw(st.booleans()):
                _text(cur, draw(VALUES))
            notes[-1] += f"*{depth}"
        elif kind == "graft":
            donor = list(OPS[draw(st.integers(0, len(OPS) - 1))].iter(etree.Element))
            part = deepcopy(donor[draw(st.integers(0, len(donor) - 1))])
            if parent is not None and draw(st.booleans()):
                parent.replace(node, part)
            else:
                node.insert(draw(st.integers(0, len(node))), part)
        elif kind == "leaf":
            ns = etree.QName(node).namespace
            name = draw(st.sampled_from(NAMES))
            leaf = etree.Element(f"{{{ns}}}{name}" if ns else name)
            _text(leaf, draw(VALUES))
            node.insert(draw(st.integers(0, len(node))), leaf)
        elif kind == "comment":
            what = draw(st.sampled_from(["comment", "pi", "tail"]))
            pos = draw(st.integers(0, len(node)))
            if what == "comment":
                node.insert(pos, etree.Comment("c"))
            elif what == "pi":
                node.insert(pos, etree.ProcessingInstruction("pi", "x"))
            elif len(node):
                try:
                    node[pos - 1].tail = draw(VALUES)
                except ValueError:
                    pass
        elif kind == "envelope":
            what = draw(st.sampled_from(["no-message-id", "rename", "namespace", "prefix"]))
            notes[-1] = f"envelope:{what}"
            if what == "no-message-id":
                root.attrib.pop("message-id", None)
            elif what == "rename":
                root.tag = f"{{{NC}}}" + draw(
                    st.sampled_from(["rpc-reply", "hello", "RPC", "rpcs"])
                )
            elif what == "namespace":
                root.tag = "{urn:example:bogus}rpc"
            else:  # the same message with a prefixed base namespace: must work the same
                new = etree.Element(f"{{{NC}}}rpc", nsmap={"nc": NC})
                for k, v in root.attrib.items():
                    new.set(k, v)
                new.extend(list(root))
                root = new
        elif kind in ("unqualify", "bytes"):
            corrupt = corrupt or []
            corrupt.append((kind, draw(st.integers(0, 2**16)), draw(st.sampled_from(range(6)))))
    raw = etree.tostring(root)
    for kind, where, how in corrupt or ():
        if kind == "unqualify":
            # Undeclare one default namespace: children fall out of every namespace
            # (lxml cannot build that as a tree). Stays well-formed.
            starts = [i for i in range(len(raw)) if raw.startswith(b' xmlns="', i)]
            if starts:
                i = starts[where % len(starts)] + len(b' xmlns="')
                j = raw.find(b'"', i)
                if j > 0:  # (a truncation may have cut it)
                    raw = raw[:i] + raw[j:]
                    notes.append("unqualify")
            continue
        pos = 1 + where % len(raw)  # an empty chunk would be a framing error
        if how == 0:
            raw = raw[:pos]
        elif how == 1:
            raw = raw[:pos] + b"<" + raw[pos:]
        elif how == 2:
            raw = raw[:pos] + bytes([draw(st.integers(0, 255))]) + raw[pos + 1 :]
        elif how == 3:
            raw = b'<?xml version="1.0" encoding="UTF-16"?>' + raw
        elif how == 4:
            raw = b'<!DOCTYPE rpc [<!ENTITY e "x">]>' + raw
        else:
            raw = raw + b"<trailing/>"
        notes.append(f"bytes:{how}@{pos}")
    return Request(chunk(raw), raw, " ".join(notes) or "valid")


# Values every leaf and attribute of the corpus gets in turn, before the random
# phase: the few that most often break parsers of numbers, names and paths.
SWEEP = [
    *("", " ", "-1", "0", "4294967296", "9" * 400, "9" * 5000, "²", "٣", "x" * 10000),
    *("memif" + "9" * 5000 + "/1", "../..", "count(//*)"),
]


# Attributes every element of the corpus gets in turn: one RFC 6241 does not
# define and an edit operation that does not exist.
SWEEP_ATTRS = [("{urn:example:bogus}attr", "x"), (f"{{{NC}}}operation", "bogus")]


def sweep() -> Iterator[Request]:
    n = 0
    for op in OPS:
        for i, el in enumerate(op.iter(etree.Element)):
            for attr, value in SWEEP_ATTRS:
                new = deepcopy(op)
                node = list(new.iter(etree.Element))[i]
                node.set(attr, value)
                n += 1
                raw = rpc(etree.tostring(new), f"sweep-{n}")
                yield Request(chunk(raw), raw, f"sweep @{etree.QName(attr).localname}")
            for attr in [None, *el.attrib] if len(el) == 0 and el is not op else el.attrib:
                for value in SWEEP:
                    new = deepcopy(op)
                    node = list(new.iter(etree.Element))[i]
                    if attr is None:
                        node.text = value
                    else:
                        node.set(attr, value)
                    n += 1
                    raw = rpc(etree.tostring(new), f"sweep-{n}")
                    yield Request(chunk(raw), raw, f"sweep {etree.QName(node).localname}")
