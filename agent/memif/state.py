"""<memif> operational state for <get>, from Dataplane.state().

Only keys and config-false containers are emitted; <get> merges them with the
running configuration by list keys. Socket 0 is not in running, so its entry
carries its (fixed) filename too.

The state is written as XML text and parsed once: 1,000 interfaces are ~25,000
leaves, and creating them one lxml element at a time cost 4-6x what writing
the same text and parsing it does.

Names and reasons come from memif peers. The dataplane already hands them over
with undecodable bytes and control characters as \\xNN; every text leaf is
still passed through xml_text (and &, <, > escaped), so no string (one lxml
would refuse, or a dataplane in another process that escapes differently) can
blind <get> or make the text other than well-formed.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from agent.yangdata.schema import MEMIF_NS

Q = f"{{{MEMIF_NS}}}"
SOCKET_STATE = (
    "listening",
    "role",
    "interface-count",
    "pending-connections",
    "dropped-connections",
    "error",
    "last-refusal",
)
INTERFACE_STATE = (
    "name",
    "admin-status",
    "link-status",
    "connection-state",
    "mac-address",
    "local-disconnect-reason",
    "remote-disconnect-reason",
    "remote-name",
    "remote-interface-name",
    "ring-size",
    "buffer-size",
    "rx-queues",
    "tx-queues",
    "regions",
)
QUEUE_LEAVES = ("direction", "id", "ring-size", "head", "tail", "packets", "bytes", "interrupts")
COUNTERS = (
    "rx-packets",
    "rx-bytes",
    "tx-packets",
    "tx-bytes",
    "rx-drops",
    "tx-drops",
    "bad-descriptors",
    "no-free-slots",
    "ring-overruns",
    "interrupts",
)


# Control characters (C0, DEL, C1) and what is not an XML 1.0 Char at all.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_MARKUP = re.compile(r"[&<>]")
_ENTITY = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def xml_text(v: str | bytes) -> str:
    """`v` as a valid, single-line XML text node: undecodable bytes and unsafe
    characters as \\xNN (\\uNNNN above U+00FF)."""
    if isinstance(v, bytes):
        v = v.decode("utf-8", "backslashreplace")
    return _UNSAFE.sub(_escape, v)


def _escape(m: re.Match) -> str:
    o = ord(m.group())
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def text_markup(v: Any) -> str:
    """A state value as the character data of an element in XML text: what
    xml_text makes of it, with the markup characters escaped."""
    t = type(v)
    if t is int:
        return str(v)  # most values: counters, ids, sizes
    if t is bool:
        return "true" if v else "false"
    if t is str and v.isascii() and v.isprintable():
        s = v  # printable ASCII: nothing for xml_text to do
    elif isinstance(v, (str, bytes)):
        s = xml_text(v)
    else:
        s = xml_text(str(v))  # an unexpected type: its str(), as lxml was given
    if "&" in s or "<" in s or ">" in s:
        s = _MARKUP.sub(lambda m: _ENTITY[m.group()], s)
    return s


def state_parser() -> etree.XMLParser:
    """A parser for state text built here (this module, agent.state_interfaces)."""
    # The text is ours and escaped, but parsed as if it were not: no entities, no
    # network, and no libxml2 size limit a long state document could trip. One
    # per document: an lxml parser must not be shared between threads.
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


def _tags(names: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    return tuple((n, f"<{n}>", f"</{n}>") for n in names)


_SOCKET_TAGS = _tags(SOCKET_STATE)
_INTERFACE_TAGS = _tags(INTERFACE_STATE)
_QUEUE_TAGS = _tags(QUEUE_LEAVES)
_COUNTER_TAGS = _tags(COUNTERS)


def _leaves(out: list[str], d: dict, tags: tuple[tuple[str, str, str], ...]) -> None:
    get = d.get
    add = out.append
    for name, open_tag, close_tag in tags:
        v = get(name)
        if v.__class__ is int:  # most values (counters, sizes): nothing to escape
            add(f"{open_tag}{v}{close_tag}")
        elif v is not None and v != "":
            add(f"{open_tag}{text_markup(v)}{close_tag}")


def _ids(d: dict) -> tuple[int, int]:
    return int(d.get("socket-id", d.get("socket_id"))), int(d["id"])


def memif_state_text(state: dict, socket0: str) -> str:
    """The <memif> state element as XML text (see memif_state)."""
    out = [f'<memif xmlns="{MEMIF_NS}">']
    add = out.append
    for s in state.get("sockets", ()):
        add(f"<socket><id>{text_markup(s['id'])}</id>")
        if int(s["id"]) == 0:
            add(f"<filename>{text_markup(socket0)}</filename>")
        add("<state>")
        _leaves(out, s, _SOCKET_TAGS)
        add("</state></socket>")
    for i in state.get("interfaces", ()):
        sid, iid = _ids(i)
        add(f"<interface><socket-id>{sid}</socket-id><id>{iid}</id><state>")
        if "name" in i:
            _leaves(out, i, _INTERFACE_TAGS)
        else:
            add(f"<name>memif{sid}/{iid}</name>")
            _leaves(out, i, _INTERFACE_TAGS[1:])
        for q in i.get("queues", ()):
            add("<queue>")
            _leaves(out, q, _QUEUE_TAGS)
            add("</queue>")
        counters = i.get("counters")
        if counters:
            add("<counters>")
            _leaves(out, counters, _COUNTER_TAGS)
            add("</counters>")
        add("</state></interface>")
    add("</memif>")
    return "".join(out)


def memif_state(state: dict, socket0: str) -> etree._Element:
    """<memif> with an entry, its keys and its <state>, for every socket and
    interface the dataplane reports."""
    return etree.fromstring(memif_state_text(state, socket0), state_parser())
