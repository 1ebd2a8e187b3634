"""Entity tags and Last-Modified (RFC 8040 §3.4.1.2, §3.5.1-2) and the
conditional request headers (RFC 9110 §13).

A resource's entity-tag is a digest of its canonical XML in the datastore, so
it changes exactly when the resource (or anything below it) does, whoever
changed it; the datastore's tag is the digest of the whole datastore.
Last-Modified is per datastore (when it last changed): HTTP dates count whole
seconds, so If-Unmodified-Since cannot tell two changes within one second.
"""

from __future__ import annotations

import email.utils
import hashlib

from lxml import etree

from agent.restconf.errors import RestconfError
from agent.yangdata.xmltree import elements


def etag(node: etree._Element | None, whole: bool = False) -> str | None:
    if node is None:
        return None
    h = hashlib.sha256()
    if whole:
        for c in elements(node):
            h.update(etree.tostring(c, method="c14n"))
    else:
        h.update(etree.tostring(node, method="c14n", with_tail=False))
    return '"' + h.hexdigest()[:24] + '"'


def http_date(ts: float) -> str:
    return email.utils.formatdate(ts, usegmt=True)


def _parse_date(text: str) -> float | None:
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if dt is None:
        return None
    return dt.timestamp()


def _tags(header: str) -> list[str]:
    out = []
    for part in header.split(","):
        part = part.strip()
        if part.startswith("W/"):
            part = part[2:]  # weak comparison (RFC 9110 §8.8.3.2): same opaque tag
        if part:
            out.append(part)
    return out


def _failed(what: str) -> RestconfError:
    return RestconfError(412, "operation-failed", f"precondition failed: {what}", type="protocol")


class NotModified(Exception):
    """A GET/HEAD whose If-None-Match or If-Modified-Since says the client has it."""


def check(headers, tag: str | None, modified: float | None, safe: bool) -> None:
    """Raise 412 (or NotModified for a safe method) as the conditional headers say.
    `tag`: the resource's entity-tag, None when it does not exist."""
    if_match = headers.get("If-Match")
    if if_match is not None:
        tags = _tags(if_match)
        if tag is None or ("*" not in tags and tag not in tags):
            raise _failed(f"If-Match {if_match[:80]!r} does not match the resource ({tag})")
    elif (ius := headers.get("If-Unmodified-Since")) is not None:
        when = _parse_date(ius)
        if when is not None and modified is not None and int(modified) > int(when):
            raise _failed(f"the datastore changed after {ius[:40]}")
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = _tags(inm)
        if tag is not None and ("*" in tags or tag in tags):
            if safe:
                raise NotModified
            raise _failed(f"If-None-Match {inm[:80]!r} matches the resource")
    elif safe and (ims := headers.get("If-Modified-Since")) is not None:
        when = _parse_date(ims)
        if when is not None and modified is not None and int(modified) <= int(when):
            raise NotModified
