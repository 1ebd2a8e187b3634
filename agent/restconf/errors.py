"""RFC 8040 §7 errors: the status code of each error-tag and the
ietf-restconf:errors document in XML or JSON.

Every layer raises agent.errors.RpcError (NETCONF's fields are RESTCONF's);
RestconfError adds a status where the tag allows more than one (404 for a
missing resource is invalid-value, 401 and 403 are both access-denied).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from lxml import etree

from agent.errors import RpcError, RpcErrors

RC_NS = "urn:ietf:params:xml:ns:yang:ietf-restconf"

# RFC 8040 §7, table: the first status is the one used when nothing says otherwise.
STATUS = {
    "in-use": 409,
    "invalid-value": 400,
    "too-big": 413,
    "missing-attribute": 400,
    "bad-attribute": 400,
    "unknown-attribute": 400,
    "bad-element": 400,
    "unknown-element": 400,
    "unknown-namespace": 400,
    "access-denied": 403,
    "lock-denied": 409,
    "resource-denied": 409,
    "rollback-failed": 500,
    "data-exists": 409,
    "data-missing": 409,
    "operation-not-supported": 501,
    "operation-failed": 500,
    "partial-operation": 500,
    "malformed-message": 400,
}


class RestconfError(RpcError):
    """An RpcError with the HTTP status to answer it with."""

    def __init__(self, status: int, tag: str, message: str, **kw) -> None:
        super().__init__(tag, message, **kw)
        self.status = status


def not_found(message: str, path: str | None = None) -> RestconfError:
    return RestconfError(404, "invalid-value", message, type="protocol", path=path)


def bad_request(message: str, tag: str = "invalid-value", **kw) -> RestconfError:
    kw.setdefault("type", "protocol")
    return RestconfError(400, tag, message, **kw)


def status_of(errors: list[RpcError]) -> int:
    first = errors[0]
    return getattr(first, "status", None) or STATUS.get(first.tag, 500)


def as_errors(exc: BaseException) -> list[RpcError]:
    if isinstance(exc, RpcErrors):
        return list(exc.errors) or [RpcError("operation-failed", str(exc))]
    if isinstance(exc, RpcError):
        return [exc]
    raise TypeError(exc)


def _entry(e: RpcError) -> dict:
    d: dict = {"error-type": e.type, "error-tag": e.tag}
    if e.app_tag:
        d["error-app-tag"] = e.app_tag
    if e.path:
        d["error-path"] = e.path
    d["error-message"] = e.message
    if e.info:
        d["error-info"] = {tag: text for tag, text in e.info}
    return d


def render(errors: Iterable[RpcError], json_form: bool) -> bytes:
    """The ietf-restconf:errors document. Built by hand, not by libyang: it is
    yang-data (rc:yang-data), which the libyang binding cannot parse or print."""
    errors = list(errors)
    if json_form:
        doc = {"ietf-restconf:errors": {"error": [_entry(e) for e in errors]}}
        return json.dumps(doc, ensure_ascii=False).encode()
    root = etree.Element(f"{{{RC_NS}}}errors", nsmap={None: RC_NS})
    for e in errors:
        el = etree.SubElement(root, f"{{{RC_NS}}}error")
        for name, value in _entry(e).items():
            child = etree.SubElement(el, f"{{{RC_NS}}}{name}")
            if name == "error-info":
                for tag, text in e.info:
                    etree.SubElement(child, f"{{{RC_NS}}}{tag}").text = _xml_safe(text)
            else:
                child.text = _xml_safe(value)
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def _xml_safe(text: str) -> str:
    """Characters XML 1.0 cannot carry (from a hostile request echoed back) as U+FFFD."""
    return "".join(
        c
        if c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c > "\uffff"
        else "\ufffd"
        for c in text
    )
