"""Replies of two NETCONF servers made comparable.

What a server may choose freely is taken out: namespace prefixes (names become
{namespace}local, error-path prefixes are resolved to namespaces), sibling
order, message-id and other reply attributes, session-ids (named by the test's
session letters), error-message text, error-app-tag, vendor error-info
(yuma's error-number) and whitespace; an error-type that RFC 6241 App. A allows
for the error-tag becomes "allowed", error-info content App. A does not define
for the tag is left out (a server may add its own); data-node error-paths lose the payload
prefix and predicates (see _data_path). A schema's text is reduced to the
module it declares.
"""

from __future__ import annotations

import re

from lxml import etree

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
_DROP = {f"{{{NC}}}error-message", f"{{{NC}}}error-app-tag"}
_PREFIXED_NAME = re.compile(r"([A-Za-z_][\w.-]*):([A-Za-z_][\w.-]*)")
_NCQ = re.escape(f"{{{NC}}}")
_IN_CONFIG = re.compile(rf"^/{_NCQ}rpc/\{{[^}}]+\}}[\w-]+/{_NCQ}config(?=/)")
_PREDICATE = re.compile(r"\[[^\]]*\]")
# RFC 6241 App. A: the error-types each error-tag may be sent with.
_P, _A, _R, _T = "protocol", "application", "rpc", "transport"
ERROR_TYPES = {
    "in-use": {_P, _A},
    "invalid-value": {_P, _A},
    "too-big": {_T, _R, _P, _A},
    "missing-attribute": {_R, _P, _A},
    "bad-attribute": {_R, _P, _A},
    "unknown-attribute": {_R, _P, _A},
    "missing-element": {_P, _A},
    "bad-element": {_P, _A},
    "unknown-element": {_P, _A},
    "unknown-namespace": {_P, _A},
    "access-denied": {_P, _A},
    "lock-denied": {_P},
    "resource-denied": {_T, _R, _P, _A},
    "rollback-failed": {_P, _A},
    "data-exists": {_A},
    "data-missing": {_A},
    "operation-not-supported": {_P, _A},
    "operation-failed": {_R, _P, _A},
    "partial-operation": {_A},
    "malformed-message": {_R},
}
# RFC 6241 App. A: the error-info each error-tag carries (names as normalised).
_Q = f"{{{NC}}}"
ERROR_INFO = {
    "missing-attribute": {_Q + "bad-attribute", _Q + "bad-element"},
    "bad-attribute": {_Q + "bad-attribute", _Q + "bad-element"},
    "unknown-attribute": {_Q + "bad-attribute", _Q + "bad-element"},
    "missing-element": {_Q + "bad-element"},
    "bad-element": {_Q + "bad-element"},
    "unknown-element": {_Q + "bad-element"},
    "unknown-namespace": {_Q + "bad-element", _Q + "bad-namespace"},
    "lock-denied": {_Q + "session-id"},
    "partial-operation": {_Q + "ok-element", _Q + "err-element", _Q + "noop-element"},
}
_MODULE = re.compile(r"^\s*(?:module|submodule)\s+([\w.-]+)", re.M)


def normalize(reply: bytes | etree._Element, sessions: dict[str, str]) -> str:
    """One canonical string for `reply`; `sessions` maps session-id -> letter."""
    root = etree.fromstring(reply) if isinstance(reply, bytes) else reply
    return _canon(root, sessions)


def _canon(el: etree._Element, sessions: dict[str, str]) -> str:
    tag = el.tag
    ns = etree.QName(tag).namespace
    if ns and ns.startswith("http://netconfcentral.org/"):
        return ""  # yuma's own error-info (error-number)
    text = (el.text or "").strip()
    local = etree.QName(tag).localname
    if tag == f"{{{NC}}}error-path":
        text = _data_path(_PREFIXED_NAME.sub(lambda m: _resolve(el, m), text))
    elif local in ("bad-element", "bad-attribute"):
        text = text.rsplit(":", 1)[-1]
    elif local == "session-id" and ns == NC:
        text = sessions.get(text, text)
    elif tag == f"{{{NCM}}}data":
        m = _MODULE.search(text)
        text = f"schema of {m.group(1)}" if m else ("schema" if text else "")
    if tag == f"{{{NC}}}error-type":
        tag_el = el.getparent().find(f"{{{NC}}}error-tag")
        allowed = ERROR_TYPES.get(tag_el.text.strip() if tag_el is not None and tag_el.text else "")
        # A type RFC 6241 App. A allows for the tag is the server's choice.
        text = "allowed" if allowed and text in allowed else f"not allowed: {text}"
    attrs = sorted((k, v) for k, v in el.attrib.items() if k not in ("message-id", "last-modified"))
    kids = sorted(
        c
        for c in (_canon(k, sessions) for k in el if isinstance(k.tag, str) and k.tag not in _DROP)
        if c
    )
    if local == "error-info":
        tag_el = el.getparent().find(f"{{{NC}}}error-tag")
        defined = ERROR_INFO.get(tag_el.text.strip() if tag_el is not None and tag_el.text else "")
        # Content App. A does not define for the tag is extra, which a server may add.
        kids = [k for k in kids if defined is not None and k.split("=", 1)[0] in defined]
    if local == "error-info" and not kids and not text:
        return ""  # only vendor information was in it
    head = tag + (repr(attrs) if attrs else "")
    body = text + ("(" + ",".join(kids) + ")" if kids else "")
    return f"{head}={body}" if body else head


def _data_path(path: str) -> str:
    """A data node's path as the agent writes it (from the datastore root) whether
    the server wrote it from the <config> payload (yuma: /nc:rpc/nc:edit-config/
    nc:config/...), with predicates left out (keys or positions, either is a
    valid way to name the node)."""
    return _PREDICATE.sub("", _IN_CONFIG.sub("", path))


def _resolve(el: etree._Element, m: re.Match) -> str:
    ns = el.nsmap.get(m.group(1))
    return f"{{{ns}}}{m.group(2)}" if ns else m.group(0)
