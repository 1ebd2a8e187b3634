"""One NETCONF session as a sans-I/O state machine (RFC 6241 sections 4 and 8.1).

`Session.receive(bytes)` returns what the transport must do, in order:
`bytes` to send, `Request`s to dispatch (their replies must go out in the same
order), or `CLOSE`. The session never touches a socket; the transport feeds it
and writes what it returns, which is what the byte-vector tests rely on.
"""

from __future__ import annotations

import enum
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from lxml import etree

from agent.errors import NC_NS, RpcError
from agent.netconf.framing import EOM, Framer, FramingError, Pieces, encode

log = logging.getLogger(__name__)

BASE10 = "urn:ietf:params:netconf:base:1.0"
BASE11 = "urn:ietf:params:netconf:base:1.1"

_RPC = f"{{{NC_NS}}}rpc"
_HELLO = f"{{{NC_NS}}}hello"
_CAPS = f"{{{NC_NS}}}capabilities"
_CAP = f"{{{NC_NS}}}capability"
_SESSION_ID = f"{{{NC_NS}}}session-id"

_REPLY_OPEN = b'<rpc-reply xmlns="' + NC_NS.encode() + b'"'
_REPLY_CLOSE = b"</rpc-reply>"
_OK = b"<ok/>"

# Best effort only: lets the error for an unparsable message still carry the
# client's message-id, so the client is not left waiting for a reply.
_MESSAGE_ID_RE = re.compile(
    rb"""<(?:[A-Za-z_][\w.-]*:)?rpc\s[^>]*?\bmessage-id\s*=\s*(["'])(.{0,256}?)\1"""
)


def hardened_parser() -> etree.XMLParser:
    """An lxml parser that never fetches, expands or loads anything external.

    huge_tree stays off, so libxml2 keeps its default depth (256) and text-node
    size limits; a document with a DTD is refused once parsed (Session._parse).
    """
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
    )


# XML whitespace (S): a client may put it between messages and before the XML
# declaration; it is not part of the next document.
_XML_SPACE = b" \t\r\n"
_MESSAGE_ID_NS = f"{{{NC_NS}}}message-id"


@dataclass(frozen=True)
class MessageLimits:
    """What one incoming message may hold; each bound makes parsing and the
    walks over the parsed tree cheap whatever the client sends (0 = no limit)."""

    max_elements: int = 500_000
    max_attributes: int = 64  # per element
    max_filter_elements: int = 10_000  # of one subtree filter
    max_xpath_length: int = 4096  # characters of one XPath filter expression
    # Messages at least this big are parsed off the event loop (a worker thread).
    offload_size: int = 256 * 1024


DEFAULT_LIMITS = MessageLimits()
# A hello carries capabilities only: parsed on the loop, so kept small.
MAX_HELLO_SIZE = 1024 * 1024


class SessionState(enum.StrEnum):
    """hello -> open [-> closing] -> closed; closing: close-session was accepted,
    the session closes once its reply is out."""

    HELLO = "hello"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class EndReason(enum.StrEnum):
    """RFC 6470 termination-reason of a session."""

    CLOSED = "closed"
    KILLED = "killed"
    DROPPED = "dropped"
    TIMEOUT = "timeout"
    BAD_HELLO = "bad-hello"
    OTHER = "other"


class _Refused(Exception):
    """A well-formed document refused (DTD, limits): carries the parsed root so
    the error reply can still name the client's message-id."""

    def __init__(self, error: RpcError, root: etree._Element) -> None:
        super().__init__(error.message)
        self.error = error
        self.root = root


class _Close:
    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"CLOSE({self.reason})"


class Unparsed:
    """A message too big to parse on the event loop: the transport hands it to
    `Session.parse_document` in a worker thread, then to `finish_message` on
    the loop, in its place in the pipeline."""

    __slots__ = ("msg",)

    def __init__(self, msg: bytes | Pieces) -> None:
        self.msg = msg

    def __len__(self) -> int:
        msg = self.msg
        return msg.size if msg.__class__ is Pieces else len(msg)

    def __repr__(self) -> str:
        return f"Unparsed({len(self)} bytes)"


class Request:
    """One well-formed <rpc> to dispatch: the operation element and the envelope."""

    __slots__ = ("op", "message_id", "attrs", "nsmap")

    def __init__(self, op: etree._Element, message_id: str, attrs, nsmap) -> None:
        self.op = op
        self.message_id = message_id
        self.attrs = attrs
        self.nsmap = nsmap

    def __repr__(self) -> str:
        return f"Request({self.op.tag}, message_id={self.message_id!r})"


def _escape_attr(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#9;")
    )


_XML_ATTR = "{http://www.w3.org/XML/1998/namespace}"


def reply_head(attrs, nsmap) -> bytes:
    """`<rpc-reply ...>` carrying every attribute of the <rpc> (RFC 6241 4.2)."""
    parts = [_REPLY_OPEN]
    declared: dict[str, str] = {}
    for key, value in attrs.items():
        if key.startswith(_XML_ATTR):
            # xml:lang and the like: the xml prefix is bound by XML itself and
            # must not be declared, nor another prefix bound to its namespace.
            key = "xml:" + key[len(_XML_ATTR) :]
        elif key[0] == "{":
            ns, local = key[1:].split("}", 1)
            prefix = declared.get(ns)
            if prefix is None:
                prefix = next((p for p, u in (nsmap or {}).items() if u == ns and p), None)
                prefix = prefix or f"a{len(declared)}"
                declared[ns] = prefix
                parts.append(f' xmlns:{prefix}="{_escape_attr(ns)}"'.encode())
            key = f"{prefix}:{local}"
        parts.append(f' {key}="{_escape_attr(value)}"'.encode())
    parts.append(b">")
    return b"".join(parts)


def serialize_body(result) -> bytes:
    """Children of <rpc-reply> from a handler result (None means <ok/>)."""
    if result is None:
        return _OK
    if isinstance(result, bytes | bytearray):
        return bytes(result)
    if isinstance(result, str):
        return result.encode()
    if isinstance(result, list | tuple):
        return b"".join(serialize_body(r) for r in result)
    return etree.tostring(result, with_tail=False)


# Prefixes an error-path may use when no table is given: "nc" only. The server
# passes each session its table (module names and prefixes of the schema).
BASE_PATH_PREFIXES: Mapping[str, str] = MappingProxyType({"nc": NC_NS})
_PREFIX_RE = re.compile(r"([A-Za-z_][\w.-]*):")


def path_nsmap(
    path: str | None, prefixes: Mapping[str, str] = BASE_PATH_PREFIXES
) -> dict[str, str] | None:
    """Declarations for the prefixes an error-path uses, so the path resolves."""
    if not path:
        return None
    nsmap = {}
    for prefix in _PREFIX_RE.findall(path):
        ns = prefixes.get(prefix)
        if ns is not None and prefix != "xml":
            nsmap[prefix] = ns
    return nsmap or None


_FILTER_TAGS = frozenset({"filter", "subtree-filter", "xpath-filter"})


_WINDOW = 1 << 20


def _lstrip_pieces(msg: Pieces) -> Pieces:
    """`msg` without the XML whitespace it starts with (see _XML_SPACE)."""
    parts = list(msg)
    size = msg.size
    while parts:
        first = parts[0].lstrip(_XML_SPACE)
        size -= len(parts[0]) - len(first)
        if first:
            parts[0] = first
            break
        parts.pop(0)
    return Pieces(parts, size)


def _element_bound(msg: bytes | Pieces) -> int:
    """An upper bound on the elements in `msg`, without parsing it: each start
    tag begins with a '<' byte not followed by '/'. Exact for UTF-8 and ASCII
    (bytes 0x3C 0x2F are "</" there); in UTF-16 a start tag's '<' may be followed
    by a 0x2F byte of the next character, so every '<' counts."""
    if msg.__class__ is Pieces:
        lt = end_tags = 0
        prev_lt = False
        for piece in msg:
            a, b = _counts(piece)
            lt += a
            end_tags += b + (prev_lt and piece[:1] == b"/")
            prev_lt = piece[-1:] == b"<"
        head = msg[0][:4] if msg else b""
    else:
        lt, end_tags = _counts(msg)
        head = msg[:4]
    if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\0" in head:
        return lt
    return lt - end_tags


def _counts(msg: bytes) -> tuple[int, int]:
    """'<' and "</" in msg."""
    # In 1 MiB windows: one bytes.count() holds the GIL for its whole scan, and
    # this runs in a worker thread next to the event loop for big messages.
    n, lt, end_tags = len(msg), 0, 0
    for start in range(0, n, _WINDOW):
        stop = start + _WINDOW
        lt += msg.count(b"<", start, stop)
        end_tags += msg.count(b"</", start, stop + 1)  # those starting in the window
    return lt, end_tags


def rpc_error_element(error: RpcError, nsmap: dict[str, str] | None = None) -> etree._Element:
    """The <rpc-error> element; nsmap gives prefixes used in error-path."""
    q = f"{{{NC_NS}}}"
    err = etree.Element(q + "rpc-error", nsmap={None: NC_NS})
    etree.SubElement(err, q + "error-type").text = error.type
    etree.SubElement(err, q + "error-tag").text = error.tag
    etree.SubElement(err, q + "error-severity").text = error.severity
    if error.app_tag:
        etree.SubElement(err, q + "error-app-tag").text = error.app_tag
    if error.path:
        p = etree.SubElement(err, q + "error-path", nsmap=nsmap or None)
        p.text = error.path
    msg = etree.SubElement(err, q + "error-message")
    msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
    msg.text = error.message
    if error.info:
        info = etree.SubElement(err, q + "error-info")
        for tag, text in error.info:
            etree.SubElement(info, q + tag).text = text
    return err


def error_xml(
    errors: Iterable[RpcError], prefixes: Mapping[str, str] = BASE_PATH_PREFIXES
) -> bytes:
    return b"".join(
        etree.tostring(rpc_error_element(e, path_nsmap(e.path, prefixes)), with_tail=False)
        for e in errors
    )


class Session:
    """Protocol state of one NETCONF session.

    `transport` is set by the I/O layer to an object with `write(bytes)` and
    `close(reason)`; the session only uses it for out-of-band output
    (notifications, kill-session) through `send_message` and `close`.
    """

    def __init__(
        self,
        session_id: int,
        username: str,
        capabilities: list[str],
        *,
        max_message_size: int = 0,
        source_host: str = "",
        parser: etree.XMLParser | None = None,
        limits: MessageLimits = DEFAULT_LIMITS,
        path_prefixes: Mapping[str, str] = BASE_PATH_PREFIXES,
    ) -> None:
        self.session_id = session_id
        self.username = username
        self.source_host = source_host
        self.login_time = time.time()
        self.server_capabilities = capabilities
        self.client_capabilities: list[str] = []
        self.framer = Framer(max_message_size)
        self.parser = parser or hardened_parser()
        self.limits = limits
        self.path_prefixes = path_prefixes
        self.framer.pieces_from = limits.offload_size
        self._state = SessionState.HELLO
        self.transport = None
        self.subscription = None  # set by agent.rpc.notifications
        self.data: dict = {}  # per-session scratch for feature modules
        # RFC 6022 per-session counters.
        self.in_rpcs = 0
        self.in_bad_rpcs = 0
        self.out_rpc_errors = 0
        self.out_notifications = 0
        self.bad_hello = False
        # Why it ends (RFC 6470): dropped unless something else says so first.
        self._end_reason = EndReason.DROPPED
        self._killed_by: int | None = None

    # -- state (every transition is one of these methods) -----------------------

    @property
    def state(self) -> SessionState:
        return self._state

    @property
    def end_reason(self) -> EndReason:
        return self._end_reason

    @property
    def killed_by(self) -> int | None:
        return self._killed_by

    @property
    def is_open(self) -> bool:
        """Past the hello and not yet closed: may get notifications."""
        return self._state is SessionState.OPEN or self._state is SessionState.CLOSING

    @property
    def closing(self) -> bool:
        """close-session was accepted: close after the current reply."""
        return self._state is SessionState.CLOSING

    def close_after_reply(self) -> None:
        """open -> closing (close-session)."""
        if self._state is SessionState.OPEN:
            self._state = SessionState.CLOSING

    def ending(self, reason: EndReason) -> None:
        """Record why the session is about to end (the transport then closes it)."""
        self._end_reason = reason

    def killed(self, by: int | None) -> None:
        """kill-session by session `by` (None: the agent)."""
        self._end_reason = EndReason.KILLED
        self._killed_by = by

    def ended(self) -> None:
        """-> closed: nothing more is read or sent."""
        self._state = SessionState.CLOSED

    def _fail(self, reason: EndReason) -> None:
        self._end_reason = reason
        self._state = SessionState.CLOSED

    # -- output ------------------------------------------------------------

    def hello(self) -> bytes:
        """The server <hello>, always end-of-message framed."""
        root = etree.Element(_HELLO, nsmap={None: NC_NS})
        caps = etree.SubElement(root, _CAPS)
        for uri in self.server_capabilities:
            etree.SubElement(caps, _CAP).text = uri
        etree.SubElement(root, _SESSION_ID).text = str(self.session_id)
        return etree.tostring(root) + EOM

    def frame(self, message: bytes) -> bytes:
        return encode(message, self.framer.chunked)

    def reply(self, request: Request, result=None) -> bytes:
        """A framed <rpc-reply> for a handler's result."""
        self.in_rpcs += 1
        body = serialize_body(result)
        attrs = request.attrs
        if len(attrs) == 1 and "message-id" in attrs:
            head = b'%s message-id="%s">' % (_REPLY_OPEN, _escape_attr(request.message_id).encode())
        else:
            head = reply_head(attrs, request.nsmap)
        return self.frame(head + body + _REPLY_CLOSE)

    def error_reply(
        self, request: Request | None, errors: list[RpcError], *, bad_rpc: bool = False
    ) -> bytes:
        """A framed <rpc-reply> holding <rpc-error>s.

        bad_rpc: the message was not a valid rpc (counts as in-bad-rpcs).
        """
        if bad_rpc:
            self.in_bad_rpcs += 1
        else:
            self.in_rpcs += 1
        self.out_rpc_errors += 1
        head = reply_head(request.attrs, request.nsmap) if request else _REPLY_OPEN + b">"
        return self.frame(head + error_xml(errors, self.path_prefixes) + _REPLY_CLOSE)

    def _for_framing(self, error: RpcError) -> RpcError:
        if not self.framer.chunked and error.tag == "malformed-message":
            # RFC 6241 App. A: malformed-message is new in base:1.1 and MUST NOT be
            # sent to a base:1.0 session; RFC 4741's nearest tag stands in.
            return RpcError("operation-failed", error.message, type="rpc")
        return error

    def _bad_message_reply(self, raw: bytes | Pieces, error: RpcError) -> bytes:
        if raw.__class__ is Pieces:
            raw = b"".join(raw[:2])[:4096] if raw else b""
        error = self._for_framing(error)
        m = _MESSAGE_ID_RE.search(raw[:4096])
        if m:
            # The value as XML reads it (entities decoded); a value XML itself
            # would refuse (control characters, unknown entities) is left out.
            quote = m.group(1)
            try:
                mid = etree.fromstring(
                    b"<a v=" + quote + m.group(2) + quote + b"/>", self.parser
                ).get("v")
            except etree.XMLSyntaxError:
                mid = None
            if mid is not None:
                req = Request(None, mid, {"message-id": mid}, None)
                return self.error_reply(req, [error], bad_rpc=True)
        return self.error_reply(None, [error], bad_rpc=True)

    def send_message(self, message: bytes) -> None:
        """Out-of-band output (notifications): frame and write through the transport."""
        if self.transport is not None and self.is_open:
            self.transport.write(self.frame(message))

    def close(self, reason: str = "closed") -> None:
        if self.transport is not None:
            self.transport.close(reason)

    # -- input -------------------------------------------------------------

    def receive(self, data: bytes) -> list:
        """Feed bytes from the peer; return the actions in order."""
        if self._state is SessionState.CLOSED:
            return []
        self.framer.feed(data)
        out: list = []
        while True:
            try:
                msg = self.framer.next_message()
            except FramingError as e:
                self._fail(EndReason.OTHER)
                out.append(_Close(f"framing error: {e}"))
                return out
            if msg is None:
                return out
            if msg.__class__ is Pieces:
                if self._state is not SessionState.HELLO and self.limits.offload_size:
                    out.append(Unparsed(msg))
                    continue
                msg = msg.join()
            msg = msg.lstrip(_XML_SPACE)
            if self._state is SessionState.HELLO:
                action = self._on_hello(msg)
                if action is not None:
                    self._fail(EndReason.BAD_HELLO)
                    out.append(action)
                    return out
            elif self.limits.offload_size and len(msg) >= self.limits.offload_size:
                out.append(Unparsed(msg))
            else:
                out.append(self._on_message(msg))

    def parse_document(self, msg: bytes | Pieces) -> tuple:
        """The parsing half of a message after <hello>, for a worker thread: a
        parser of its own and nothing of the session's state is touched (the
        session may parse a later small message on the loop meanwhile). Pass
        the result to `finish_message` on the event loop."""
        msg = _lstrip_pieces(msg) if msg.__class__ is Pieces else msg.lstrip(_XML_SPACE)
        return msg, self._parse_result(msg, hardened_parser())

    def finish_message(self, parsed: tuple):
        """A Request, or the framed error reply, from `parse_document`'s result."""
        return self._finish(*parsed)

    def _parse_result(self, msg: bytes | Pieces, parser: etree.XMLParser):
        try:
            return self._parse(msg, parser)
        except (RpcError, _Refused) as e:
            return e

    def _parse(self, msg: bytes | Pieces, parser: etree.XMLParser) -> etree._Element:
        limits = self.limits
        if limits.max_elements and _element_bound(msg) > limits.max_elements:
            raise RpcError(
                "too-big",
                f"message holds more than {limits.max_elements} elements (max-elements)",
                type="rpc",
            )
        try:
            if msg.__class__ is Pieces:
                # Fed piece by piece: the GIL is free between pieces, and no
                # joined copy of the message is made.
                for piece in msg:
                    parser.feed(piece)
                root = parser.close()
            else:
                root = etree.fromstring(msg, parser)
        except etree.XMLSyntaxError as e:
            if "Excessive depth" in str(e):  # libxml2's limit, which huge_tree would lift
                raise RpcError(
                    "malformed-message",
                    "elements nested deeper than 256 levels are not accepted",
                    type="rpc",
                ) from None
            raise RpcError("malformed-message", f"not well-formed XML: {e}", type="rpc") from None
        except ValueError as e:  # e.g. empty input
            raise RpcError("malformed-message", f"not well-formed XML: {e}", type="rpc") from None
        error = self._refusal(root)
        if error is not None:
            raise _Refused(error, root)
        return root

    def _refusal(self, root: etree._Element) -> RpcError | None:
        """Why a well-formed document is still not accepted, if it is not."""
        docinfo = root.getroottree().docinfo
        # Decided on the parsed document, so no encoding (UTF-16, ...) hides one.
        if docinfo.internalDTD is not None or docinfo.externalDTD is not None or docinfo.doctype:
            return RpcError(
                "malformed-message", "DTDs and entity declarations are not accepted", type="rpc"
            )
        limits = self.limits
        if limits.max_attributes:
            cap = limits.max_attributes
            # len() of an element's attrib is linear; materialising it (dict,
            # items) is quadratic in lxml, so nothing else runs before this.
            for el in root.iter():
                if len(el.attrib) > cap:
                    return RpcError(
                        "too-big",
                        f"an element holds more than {cap} attributes (max-attributes)",
                        type="rpc",
                    )
        return None

    def _on_hello(self, msg: bytes) -> _Close | None:
        if len(msg) > MAX_HELLO_SIZE:
            self.bad_hello = True
            return _Close(f"bad hello: larger than {MAX_HELLO_SIZE} bytes")
        try:
            root = self._parse(msg, self.parser)
        except RpcError as e:
            self.bad_hello = True
            return _Close(f"bad hello: {e.message}")
        except _Refused as e:
            self.bad_hello = True
            return _Close(f"bad hello: {e.error.message}")
        if root.tag != _HELLO:
            self.bad_hello = True
            return _Close(f"expected <hello>, got {root.tag}")
        if root.find(_SESSION_ID) is not None:
            # RFC 6241 8.1: a client hello with a session-id terminates the session.
            self.bad_hello = True
            return _Close("client <hello> contains a session-id")
        caps = [(c.text or "").strip() for c in root.iterfind(f"{_CAPS}/{_CAP}")]
        self.client_capabilities = caps
        has10, has11 = BASE10 in caps, BASE11 in caps
        if not (has10 or has11):
            self.bad_hello = True
            return _Close("client <hello> offers neither base:1.0 nor base:1.1")
        if has11 and BASE11 in self.server_capabilities:
            self.framer.set_chunked()
        self._state = SessionState.OPEN
        return None

    def _on_message(self, msg: bytes):
        return self._finish(msg, self._parse_result(msg, self.parser))

    def _finish(self, msg: bytes | Pieces, root):
        if root.__class__ is _Refused:
            # Parsed: the message-id is read from the document, in any encoding
            # (one lookup is linear in the attributes, even past the limit).
            r = root.root
            mid = r.get("message-id") or r.get(_MESSAGE_ID_NS)
            req = Request(None, mid, {"message-id": mid}, None) if mid is not None else None
            return self.error_reply(req, [self._for_framing(root.error)], bad_rpc=True)
        if isinstance(root, RpcError):
            return self._bad_message_reply(msg, root)
        tag = root.tag
        if tag != _RPC:
            return self._bad_envelope(root)
        attrs = root.attrib
        # Some clients qualify it (nc:message-id); RFC 6241 4.1 names the
        # attribute, and the reply echoes it as it came (reply_head).
        message_id = attrs.get("message-id")
        if message_id is None:
            message_id = attrs.get(_MESSAGE_ID_NS)
        if message_id is None:
            err = RpcError(
                "missing-attribute",
                "<rpc> has no message-id attribute",
                type="rpc",
                info=[("bad-attribute", "message-id"), ("bad-element", "rpc")],
            )
            return self.error_reply(None, [err], bad_rpc=True)
        # The envelope's prefixes matter only to echo extra attributes (reply_head).
        n_attrs = len(attrs)
        plain = n_attrs == 1 and "message-id" in attrs
        request = Request(None, message_id, dict(attrs.items()), None if plain else root.nsmap)
        op = None
        for child in root:
            if op is not None:
                bad = etree.QName(child).localname
                err = RpcError(
                    "unknown-element",
                    "<rpc> must hold exactly one operation",
                    type="protocol",
                    info=[("bad-element", bad)],
                )
                return self.error_reply(request, [err], bad_rpc=True)
            op = child
        if op is None:
            err = RpcError(
                "missing-element",
                "<rpc> holds no operation",
                type="protocol",
                info=[("bad-element", "rpc")],
            )
            return self.error_reply(request, [err], bad_rpc=True)
        limit_error = self._filter_limits(op)
        if limit_error is not None:
            return self.error_reply(request, [limit_error])
        request.op = op
        return request

    def _filter_limits(self, op: etree._Element) -> RpcError | None:
        """The static bounds of the operation's filters (RFC 6241 <filter>, RFC
        8526 subtree-filter / xpath-filter, RFC 5277's <filter>); what an XPath
        costs on the data is bounded where it runs (agent.yangdata.filters)."""
        limits = self.limits
        for el in op:
            if not isinstance(el.tag, str):
                continue
            local = el.tag.rsplit("}", 1)[-1]
            if local not in _FILTER_TAGS:
                continue
            select = el.text or "" if local == "xpath-filter" else el.get("select")
            if select is not None and limits.max_xpath_length:
                if len(select) > limits.max_xpath_length:
                    return RpcError(
                        "too-big",
                        f"XPath filter longer than {limits.max_xpath_length} characters"
                        " (max-xpath-length)",
                        info=[("bad-element", local)],
                    )
            if limits.max_filter_elements and local != "xpath-filter":
                # Counting stops at the limit: the walk is as cheap as the bound.
                count = 0
                for _ in el.iterdescendants():
                    count += 1
                    if count > limits.max_filter_elements:
                        return RpcError(
                            "too-big",
                            f"subtree filter holds more than {limits.max_filter_elements}"
                            " elements (max-filter-elements)",
                            info=[("bad-element", local)],
                        )
        return None

    def _bad_envelope(self, root: etree._Element) -> bytes:
        q = etree.QName(root)
        if q.localname == "rpc":
            err = RpcError(
                "unknown-namespace",
                f"<rpc> must be in namespace {NC_NS}, not {q.namespace or 'none'}",
                type="protocol",
                info=[("bad-element", "rpc"), ("bad-namespace", q.namespace or "")],
            )
        else:
            err = RpcError(
                "unknown-element",
                f"expected <rpc>, got <{q.localname}>",
                type="protocol",
                info=[("bad-element", q.localname)],
            )
        mid = root.get("message-id")
        req = Request(None, mid, {"message-id": mid}, None) if mid is not None else None
        return self.error_reply(req, [err], bad_rpc=True)


CLOSE = _Close
__all__ = [
    "BASE10",
    "BASE11",
    "CLOSE",
    "DEFAULT_LIMITS",
    "EndReason",
    "MessageLimits",
    "Request",
    "Session",
    "SessionState",
    "Unparsed",
    "hardened_parser",
]
