"""Checks on what the dataplane process answers, before the agent uses it.

The process maps memory a memif peer writes into: assume it can be made to
say anything. Replies are bounded (depth, list lengths, string lengths), keys
the agent relies on are type-checked, and strings are made XML-safe (control
characters, lone surrogates and other characters XML 1.0 cannot carry become
\\xNN / \\uNNNN escapes). New keys pass through, so the dataplane may grow
state without the agent learning of it here first.
"""

from __future__ import annotations

import re
from typing import Any

MAX_DEPTH = 4
MAX_ITEMS = 100_000
MAX_STRING = 4096
_U64 = (1 << 64) - 1
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class BadReply(Exception):
    """The dataplane process answered something the agent cannot use."""


def _escape(m: re.Match[str]) -> str:
    c = ord(m.group())
    return f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}"


def clean(v: Any, depth: int = 0) -> Any:
    """`v` with every string XML-safe, or BadReply when it is out of bounds."""
    t = type(v)
    if t is str:
        if len(v) > MAX_STRING:
            raise BadReply("string too long")
        if v.isascii() and v.isprintable():
            return v
        return _NOT_XML.sub(_escape, v)
    if t is int:
        if not -_U64 <= v <= _U64:
            raise BadReply("integer out of range")
        return v
    if t is bool or v is None:
        return v
    if depth >= MAX_DEPTH:
        raise BadReply("reply nested too deep")
    if t is dict:
        if len(v) > MAX_ITEMS:
            raise BadReply("object too large")
        return _clean_dict(v, depth + 1)
    if t is list:
        if len(v) > MAX_ITEMS:
            raise BadReply("list too long")
        return [clean(x, depth + 1) for x in v]
    raise BadReply(f"unexpected {t.__name__} in reply")


def _clean_dict(v: dict, depth: int) -> dict:
    # Written for speed: a state() reply for 1,000 interfaces holds ~50,000
    # values, nearly all short printable keys and in-range ints, checked here
    # without a call each; anything else goes through clean().
    out = {}
    for k, x in v.items():
        if k.__class__ is not str or len(k) > MAX_STRING or not (k.isascii() and k.isprintable()):
            k = clean(k, depth)
        t = x.__class__
        if t is int:
            if not -_U64 <= x <= _U64:
                raise BadReply("integer out of range")
        elif t is not str or len(x) > MAX_STRING or not (x.isascii() and x.isprintable()):
            x = clean(x, depth)
        out[k] = x
    return out


def _id(d: dict, key: str) -> int:
    v = d.get(key)
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise BadReply(f"{key} is not a 32-bit id")
    return v


def _objects(v: Any, what: str) -> list[dict]:
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        raise BadReply(f"{what} is not a list of objects")
    return v


def interface(d: Any) -> dict:
    if not isinstance(d, dict):
        raise BadReply("interface state is not an object")
    d = clean(d)
    _id(d, "socket-id")
    _id(d, "id")
    _objects(d.get("queues", []), "queues")
    if not isinstance(d.get("counters", {}), dict):
        raise BadReply("counters is not an object")
    return d


def state(v: Any) -> dict:
    """A Dataplane.state() reply: {"sockets": [...], "interfaces": [...]}."""
    if not isinstance(v, dict):
        raise BadReply("state is not an object")
    sockets = [clean(s) for s in _objects(v.get("sockets"), "sockets")]
    for s in sockets:
        _id(s, "id")
    return {
        "sockets": sockets,
        "interfaces": [interface(i) for i in _objects(v.get("interfaces"), "interfaces")],
    }


def events(v: Any) -> list[dict]:
    """An EVENTS frame's list; link events carry ids and a boolean `up`."""
    out = []
    for ev in _objects(v, "events"):
        ev = clean(ev)
        if ev.get("type") == "link":
            _id(ev, "socket_id")
            _id(ev, "id")
            if not isinstance(ev.get("up"), bool):
                raise BadReply("link event without a boolean up")
        out.append(ev)
    return out


def none(v: Any) -> None:
    """Replies of calls that return nothing."""
    if v is not None:
        raise BadReply("unexpected result")
