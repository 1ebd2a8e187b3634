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
from agent.yangdata import filters, xpath_expr

log = logging.getLogger(__name__)

NOTIF_NS = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIFICATION_CAP = "urn:ietf:params:netconf:capability:notification:1.0"
INTERLEAVE_CAP = "urn:ietf:params:netconf:capability:interleave:1.0"
STREAM = "NETCONF"
_Q = f"{{{NOTIF_NS}}}"
_STREAM_PATH = "/nc:rpc/ncEvent:create-subscription/ncEvent:stream"
# An XPath filter runs on every event, on the loop: its cost is bounded before
# it is accepted on the shape of the biggest event usually sent, a
# netconf-config-change of this many edits (a 10,000-interface commit); a
# bigger event is measured before the filter runs on it.
EVENT_EDITS = 10_000


def event_time(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Subscription:
    __slots__ = ("stream", "kind", "filter", "tokens", "budget")

    def __init__(
        self,
        stream: str,
        kind: str | None,
        filt,
        tokens=None,
        budget: int = filters.DEFAULT_XPATH_RULES.budget,
    ) -> None:
        self.stream = stream
        self.kind = kind  # None (everything), "subtree" or "xpath"
        self.filter = filt  # subtree: list of elements; xpath: compiled XPath
        self.tokens = tokens  # xpath: the expression's tokens, to bound its cost
        self.budget = budget  # node visits an evaluation may cost (xpath-budget)

    def matches(self, event: etree._Element) -> bool:
        if self.kind is None:
            return True
        if self.kind == "xpath":
            if len(event) > EVENT_EDITS and not self._affordable(event):
                return False
            try:
                result = self.filter(etree.ElementTree(event))
            except etree.XPathError:
                return False
            return bool(result)
        return any(subtree_match(f, event) for f in self.filter)

    def _affordable(self, event: etree._Element) -> bool:
        """Whether the filter fits the XPath budget on an event bigger than the
        one it was bounded on; one that does not is not evaluated (the event is
        withheld from this subscriber, and logged)."""
        if self.tokens is None:
            return True
        if event.tag == f"{{{NCN_NS}}}netconf-config-change":
            # its shape is linear in its edits (walking 10,000 takes ~0.6 s)
            shape = reference_shape(len(event))
        else:
            shape = xpath_expr.Shape.of([event])
        try:
            ok = xpath_expr.cost(self.tokens, shape, self.budget) is not None
        except ValueError:
            ok = False
        if not ok:
            log.warning(
                "notification %s of %d nodes withheld from a subscriber: its XPath filter"
                " may cost more than %d node visits on it (xpath-budget)",
                etree.QName(event).localname,
                shape.nodes,
                self.budget,
            )
        return ok

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


def notification_names(schema) -> dict[str, frozenset[str]]:
    """Local name -> namespaces of the nodes of every notification the schema
    defines, their content included (an XPath filter's unprefixed names)."""
    import libyang
    from libyang.util import c2str

    found: dict[str, set[str]] = {}
    for module in schema:
        ns = c2str(module.cdata.ns)
        stack = list(module.children(types=(libyang.SNode.NOTIF,)))
        while stack:
            node = stack.pop()
            found.setdefault(node.name(), set()).add(ns)
            if node.keyword() in ("notification", "container", "list"):
                stack.extend(node.children())
    return {k: frozenset(v) for k, v in found.items()}


def config_change_event(edits: int) -> etree._Element:
    """A netconf-config-change of `edits` edits, as a commit of that many
    changed interface leaves sends it."""
    q = f"{{{NCN_NS}}}"
    ev = etree.Element(q + "netconf-config-change", nsmap={None: NCN_NS})
    by = etree.SubElement(ev, q + "changed-by")
    session_parms(by, 1, "admin", "127.0.0.1")
    etree.SubElement(ev, q + "datastore").text = "running"
    for i in range(edits):
        edit = etree.SubElement(ev, q + "edit")
        etree.SubElement(edit, q + "target").text = (
            f"/memif-agent:memif/memif-agent:interface[memif-agent:socket-id='1']"
            f"[memif-agent:id='{i}']/memif-agent:enabled"
        )
        etree.SubElement(edit, q + "operation").text = "replace"
    return ev


def reference_shape(edits: int = EVENT_EDITS) -> xpath_expr.Shape:
    """Shape.of a config_change_event(edits), without building it: every count,
    fan-out and subtree size of that event grows linearly with its edits, so two
    small ones give all of them (measuring 10,000 edits takes ~0.6 s)."""
    a = xpath_expr.Shape.of([config_change_event(10)])
    b = xpath_expr.Shape.of([config_change_event(20)])

    def at(x: int, y: int) -> int:
        return x + (y - x) * (edits - 10) // 10

    return xpath_expr.Shape(
        at(a.nodes, b.nodes),
        a.depth,
        tuple(map(at, a.fanout, b.fanout)),
        tuple(map(at, a.subtree, b.subtree)),
        {k: tuple(map(at, v, b.names[k])) for k, v in a.names.items()},
    )


class Notifications:
    def __init__(self, server: Host) -> None:
        self.server = server
        self.names = notification_names(server.schema)
        self._reference: xpath_expr.Shape | None = None

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
                path=_STREAM_PATH,
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
        kind, compiled, tokens = None, None, None
        if filt is not None:
            kind, compiled, tokens = self._compile_filter(filt)
        session.subscription = Subscription(
            stream, kind, compiled, tokens, self.server.xpath_rules.budget
        )
        log.info("session %d subscribed to %s", session.session_id, stream)

    def _compile_filter(self, filt: etree._Element):
        """(kind, compiled filter, XPath tokens); its length and subtree size
        were bounded with the message (agent.session)."""
        ftype = filt.get("type", "subtree")
        if ftype == "subtree":
            return "subtree", [c for c in filt if isinstance(c.tag, str)], None
        if ftype == "xpath":
            select = filt.get("select")
            if not select:
                raise RpcError(
                    "missing-attribute",
                    "an xpath filter needs a select attribute",
                    type="protocol",
                    info=[("bad-attribute", "select"), ("bad-element", "filter")],
                )
            return ("xpath", *self._compile_xpath(filt, select))
        raise RpcError(
            "bad-attribute",
            f"unknown filter type {ftype!r}",
            type="protocol",
            info=[("bad-attribute", "type"), ("bad-element", "filter")],
        )

    def _compile_xpath(self, filt: etree._Element, select: str):
        """The expression compiled with its names resolved as in get filters
        (prefixes the filter declares win; module names and prefixes resolve the
        others; an unprefixed name is the one notification node of that name),
        once it is known to fit the XPath budget and nesting bound."""
        try:
            tokens = xpath_expr.tokenize(select)
        except ValueError as e:
            raise filters.bad_select(f"invalid XPath expression {select!r}: {e}") from None
        declared = {p: u for p, u in filt.nsmap.items() if p}
        expr, nsmap = xpath_expr.qualify(
            select, tokens, declared, self.server.path_prefixes, self.names
        )
        if self._reference is None:
            self._reference = reference_shape()
        shape = self._reference
        rules = self.server.xpath_rules
        try:
            bound = xpath_expr.cost(tokens, shape, rules.budget, rules.max_depth)
        except ValueError as e:
            raise filters.bad_select(f"invalid XPath expression {select!r}: {e}") from None
        if bound is None:
            raise RpcError(
                "resource-denied",
                f"XPath filter {select[:200]!r} may cost more than {rules.budget} node"
                f" visits on an event of {shape.nodes} nodes (xpath-budget), or nests deeper"
                f" than {rules.max_depth} (max-xpath-depth); nested location paths in"
                " predicates multiply the cost",
                info=[("bad-attribute", "select"), ("bad-element", "filter")],
            )
        try:
            compiled = etree.XPath(expr, namespaces=nsmap)
            compiled(etree.ElementTree(etree.Element("probe")))  # unknown prefixes, functions
        except etree.XPathError as e:
            raise filters.bad_select(f"invalid XPath expression {select!r}: {e}") from None
        return compiled, tokens

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
            s for s in self.server.sessions.values() if s.subscription is not None and s.is_open
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
