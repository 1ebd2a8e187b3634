"""<memif> operational state for <get>, from one read of the dataplane.

Each socket's and interface's <state> element arrives as XML text, written in
C from the dataplane's compact state (dataplane.state_blob): 1,000
interfaces are ~25,000 leaves, and building them here, as dicts and then as
elements or text, cost 10-30x a get-config of the same interfaces. <get>
either splices that text into the serialized configuration
(agent.yangdata.splice) or, where a filter or NACM must see a tree, parses it
once (MemifStateText.tree).

Only keys and config-false containers are emitted. Socket 0 is not in
running, so its entry carries its (fixed) filename too.

Names and reasons come from memif peers: the formatter escapes undecodable
bytes, control characters and markup, so no string can blind <get> or make
the text other than well-formed. xml_text and text_markup do the same for
the text written here (ietf-interfaces, the socket 0 filename, the
dataplane's status).
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from agent.yangdata.schema import MEMIF_NS
from dataplane.state_blob import StateText

Q = f"{{{MEMIF_NS}}}"


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


SOCKET = f"{Q}socket"
INTERFACE = f"{Q}interface"
_OPEN = f'<memif xmlns="{MEMIF_NS}">'.encode()
_CLOSE = b"</memif>"
NO_STATE = b"<state/>"


class MemifStateText:
    """One read of the dataplane as <memif> state text: `fragments` maps each
    list entry, (tag, key values), to its <state> element; `entry` wraps one
    whose entry is not configured; `tail` is what follows the entries (the
    dataplane process's own status)."""

    def __init__(self, state: StateText | None, socket0: str, tail: str) -> None:
        # No process, or it does not answer: socket 0 all the same.
        self.fragments = state.fragments if state is not None else {(SOCKET, ("0",)): NO_STATE}
        self.tail = tail.encode()
        self._socket0 = f"<filename>{text_markup(socket0)}</filename>".encode()

    def entry(self, tag: str, keys: tuple[str, ...], state: bytes) -> bytes:
        """The whole list entry for `state`, when running has none."""
        if tag == SOCKET:
            filename = self._socket0 if keys == ("0",) else b""
            return b"<socket><id>%s</id>%s%s</socket>" % (keys[0].encode(), filename, state)
        sid, iid = keys
        return b"<interface><socket-id>%s</socket-id><id>%s</id>%s</interface>" % (
            sid.encode(),
            iid.encode(),
            state,
        )

    def text(self) -> bytes:
        """The <memif> element of the state alone."""
        out = [_OPEN]
        out.extend(self.entry(tag, keys, st) for (tag, keys), st in self.fragments.items())
        out += [self.tail, _CLOSE]
        return b"".join(out)

    def tree(self) -> etree._Element:
        return etree.fromstring(self.text(), state_parser())


def dataplane_status_text(status: str, reason: str, pid: int | None, restarts: int) -> str:
    """<dataplane-state>: whether the dataplane process runs and answers."""
    out = [f"<dataplane-state><status>{status}</status>"]
    if reason:
        out.append(f"<reason>{text_markup(reason)}</reason>")
    if pid is not None:
        out.append(f"<pid>{pid}</pid>")
    out.append(f"<restarts>{restarts}</restarts></dataplane-state>")
    return "".join(out)
