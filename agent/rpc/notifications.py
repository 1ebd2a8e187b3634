"""RFC 5277 event notifications: create-subscription on stream NETCONF.

`server.notify(event)` wraps the event in <notification><eventTime> once,
then sends it to every subscribed session whose filter (subtree or XPath) and
access checks pass. Also emits the RFC 6470 netconf-session-start/-end events
(config-change and confirmed-commit: agent.rpc.config_events).
Replay is not supported (no :replay capability), so startTime is refused.
"""

from __future__ import annotations

import datetime as dt
import logging

from lxml import etree

from agent.errors import RpcError
from agent.rpc.context import RpcContext
from agent.rpc.host import ClientSession, Host

log = logging.getLogger(__name__)

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIFICATION_CAP = "urn:ietf:params:netconf:capability:notification:1.0"
INTERLEAVE_CAP = "urn:ietf:params:netconf:capability:interleave:1.0"
STREAM = "NETCONF"
_Q = f"{{{NOTIF_NS}}}"


def event_time(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Subscription:
    __slots__ = ("stream", "kind", "filter")

    def __init__(self, stream: str, kind: str | None, filt) -> None:
        self.stream = stream
        self.kind = kind  # None (everything), "subtree" or "xpath"
        self.filter = filt  # subtree: list of elements; xpath: compiled XPath

    def matches(self, event: etree._Element) -> bool:
        if self.kind is None:
            return True
        if self.kind == "xpath":
            try:
                result = self.filter(etree.ElementTree(event))
            except etree.XPathError:
                return False
            return bool(result)
        return any(subtree_match(f, event) for f in self.filter)

    def may_want(self, tag: str) -> bool:
        """Whether an event named `tag` ("{ns}name") could pass this filter: False
        only for a subtree filter none of whose top-level nodes has that name."""
        if self.kind != "subtree":
            return True
        probe = etree.Element(tag)
        return any(_name_matches(f, probe) for f in self.filter)


def subtree_match(filt: etree._Element, node: etree._Element) -> bool:
    """RFC 6241 6.2 subtree filter test of one top-level node (content-match semantics).

    Containment and content-match nodes must be present and equal; selection
    nodes only select, so they never reject. Namespaces match when the filter
    gives one; attribute match expressions must equal.
    """
    if not _name_matches(filt, node):
        return False
    for key, value in filt.attrib.items():
        if node.get(key) != value:
            return False
    children = [c for c in filt if isinstance(c.tag, str)]
    if not children:
        text = (filt.text or "").strip()
        return not text or (node.text or "").strip() == text
    for child in children:
        has_kids = any(isinstance(c.tag, str) for c in child)
        text = (child.text or "").strip()
        if not has_kids and not text:
            continue  # selection node
        if not any(subtree_match(child, n) for n in node if isinstance(n.tag, str)):
            return False
    return True


def _name_matches(filt: etree._Element, node: etree._Element) -> bool:
    fq, nq = etree.QName(filt), etree.QName(node)
    if fq.localname != nq.localname:
        return False
    return not fq.namespace or fq.namespace == nq.namespace


class Notifications:
    def __init__(self, server: Host) -> None:
        self.server = server

    # -- create-subscription -----------------------------------------------------

    def create_subscription(self, ctx: RpcContext, op: etree._Element) -> None:
        session = ctx.session
        if session.subscription is not None:
            raise RpcError(
                "in-use", "this session already has a notification subscription", type="protocol"
            )
        stream = (op.findtext(_Q + "stream") or STREAM).strip()
        if stream != STREAM:
            raise RpcError(
                "invalid-value",
                f"no event stream {stream!r} (only {STREAM})",
                path="/ncEvent:create-subscription/ncEvent:stream",
                info=[("bad-element", "stream")],
            )
        start, stop = op.find(_Q + "startTime"), op.find(_Q + "stopTime")
        if stop is not None and start is None:
            raise RpcError(
                "missing-element",
                "stopTime needs a startTime",
                type="protocol",
                info=[("bad-element", "startTime")],
            )
        if start is not None:
            raise RpcError(
                "operation-failed",
                f"stream {STREAM} does not support replay (no startTime)",
                info=[("bad-element", "startTime")],
            )
        # RFC 5277 puts <filter> in the notification namespace; clients (ncclient)
        # also send it in the base namespace or none, so accept it by local name.
        filt = next(
            (c for c in op if isinstance(c.tag, str) and etree.QName(c).localname == "filter"), None
        )
        kind, compiled = None, None
        if filt is not None:
            kind, compiled = self._compile_filter(filt)
        session.subscription = Subscription(stream, kind, compiled)
        log.info("session %d subscribed to %s", session.session_id, stream)

    def _compile_filter(self, filt: etree._Element):
        ftype = filt.get("type", "subtree")
        if ftype == "subtree":
            return "subtree", [c for c in filt if isinstance(c.tag, str)]
        if ftype == "xpath":
            select = filt.get("select")
            if not select:
                raise RpcError(
                    "missing-attribute",
                    "an xpath filter needs a select attribute",
                    type="protocol",
                    info=[("bad-attribute", "select"), ("bad-element", "filter")],
                )
            # Prefixes declared on the filter win; module names and module prefixes
            # of the schema resolve the rest, as clients often leave them undeclared.
            nsmap = {p: u for p, u in self.server.path_prefixes.items() if p != "xml"}
            nsmap.update((p, u) for p, u in filt.nsmap.items() if p)
            try:
                compiled = etree.XPath(select, namespaces=nsmap)
                compiled(etree.ElementTree(etree.Element("probe")))  # unknown prefixes, functions
                return "xpath", compiled
            except etree.XPathError as e:
                raise RpcError(
                    "invalid-value",
                    f"bad XPath filter {select!r}: {e}",
                    info=[("bad-element", "filter")],
                ) from None
        raise RpcError(
            "bad-attribute",
            f"unknown filter type {ftype!r}",
            type="protocol",
            info=[("bad-attribute", "type"), ("bad-element", "filter")],
        )

    # -- delivery ---------------------------------------------------------------------

    def has_subscribers(self, tag: str) -> bool:
        """Whether some open session's subscription may want an event named `tag`:
        events that cost work to build need not be built for nobody."""
        return any(
            s.subscription is not None and s.is_open and s.subscription.may_want(tag)
            for s in self.server.sessions.values()
        )

    def route(self, event: etree._Element) -> None:
        subscribers = [
            s
            for s in self.server.sessions.values()
            if s.subscription is not None and s.is_open
        ]
        if not subscribers:
            return
        body = etree.tostring(event, with_tail=False)
        message = (
            b'<notification xmlns="'
            + NOTIF_NS.encode()
            + b'"><eventTime>'
            + event_time().encode()
            + b"</eventTime>"
            + body
            + b"</notification>"
        )
        checks = self.server.notification_checks
        for session in subscribers:
            try:
                if not session.subscription.matches(event):
                    continue
                mine, out = event, message
                for check in checks:
                    verdict = check(session, mine)
                    if verdict is False:
                        break
                    if verdict is not True:  # a trimmed copy for this session only
                        mine = verdict
                else:
                    if mine is not event:
                        out = message.replace(body, etree.tostring(mine, with_tail=False), 1)
                    session.send_message(out)
                    session.out_notifications += 1
            except ConnectionError:
                # Its client went away while the event was on its way (two sessions
                # ending at once): the session's own end is handled by its transport.
                log.debug("notification to session %d: channel closed", session.session_id)
            except Exception:
                log.exception("notification to session %d failed", session.session_id)

    # -- RFC 6470 session events ----------------------------------------------------

    def session_started(self, session: ClientSession) -> None:
        self.server.notify(self._session_event("netconf-session-start", session))

    def session_gone(self, session: ClientSession) -> None:
        ev = self._session_event("netconf-session-end", session)
        if session.killed_by is not None:
            etree.SubElement(ev, f"{{{NCN_NS}}}killed-by").text = str(session.killed_by)
        etree.SubElement(ev, f"{{{NCN_NS}}}termination-reason").text = session.end_reason
        self.server.notify(ev)

    @staticmethod
    def _session_event(name: str, session: ClientSession) -> etree._Element:
        ev = etree.Element(f"{{{NCN_NS}}}{name}", nsmap={None: NCN_NS})
        session_parms(ev, session.session_id, session.username, session.source_host)
        return ev


def session_parms(parent: etree._Element, session_id: int, username: str, host: str) -> None:
    """RFC 6470 common-session-parms under `parent`: username, session-id and, when
    known, source-host."""
    q = f"{{{NCN_NS}}}"
    etree.SubElement(parent, q + "username").text = username
    etree.SubElement(parent, q + "session-id").text = str(session_id)
    if host:
        etree.SubElement(parent, q + "source-host").text = host


def register(server: Host) -> Notifications:
    n = Notifications(server)
    server.add_path_prefix("ncEvent", NOTIF_NS)
    server.add_capability(NOTIFICATION_CAP)
    server.add_capability(INTERLEAVE_CAP)
    server.register_rpc(NOTIF_NS, "create-subscription", n.create_subscription)
    server.set_notification_router(n.route)
    server.add_session_start_hook(n.session_started)
    server.add_session_gone_hook(n.session_gone)
    return n
