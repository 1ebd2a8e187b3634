"""The XPath cost bound and name resolution of agent.yangdata.xpath_expr, on data shaped
like a datastore of memif interfaces."""

from __future__ import annotations

import time

import pytest
from lxml import etree

from agent.errors import RpcError
from agent.yangdata import xpath_expr as X

NS = "urn:x"


def _index() -> dict:
    from agent.yangdata.schema_index import SNodeInfo

    leaves = {
        f"{{{NS}}}{k}": SNodeInfo(f"{{{NS}}}{k}", "leaf", True)
        for k in ("socket-id", "id", "enabled", "role", "mode", "mac-address", "xconnect")
    }
    it = SNodeInfo(f"{{{NS}}}interface", "list", True, children=leaves)
    top = SNodeInfo(f"{{{NS}}}memif", "container", True, children={it.tag: it})
    return {top.tag: top}


def _data(n: int) -> etree._Element:
    top = etree.Element(f"{{{NS}}}memif")
    for i in range(n):
        it = etree.SubElement(top, f"{{{NS}}}interface")
        for k in ("socket-id", "id", "enabled", "role", "mode", "mac-address", "xconnect"):
            etree.SubElement(it, f"{{{NS}}}{k}").text = str(i)
    return top


CHEAP = [
    "/m:memif/m:interface[m:id='5']",
    "//m:interface[m:id='5']/m:mode",
    "/m:memif/m:interface[m:socket-id='1' and m:id='2']/m:enabled",
    "//m:interface[position()=last()]",
    "count(//m:interface) > 0",
    "/m:memif/m:interface/m:id | /m:memif/m:interface/m:mode",
]
COSTLY = [
    "//*[count(//*) > 0]",
    "//*[count(//*[count(//*[count(//*) > 0]) > 0]) > 0]",
    "//m:id[. = //m:xconnect]",
    "/m:memif/m:interface[m:id = ../m:interface/m:xconnect]",
    "//*[following::*]",
    "//*//*",
]


# Searching every node's string-value: each text node is read once per
# ancestor over all candidates, so this fits the budget on moderate data.
SEARCHES = ["//*[. = 'x']", "//*[contains(., 'x')]", "//m:id[. = 'x']"]


@pytest.mark.parametrize("expr", SEARCHES)
def test_value_searches_fit_the_budget_at_1000_interfaces(expr):
    shape = X.Shape.estimate([_data(1000)], _index())
    assert X.cost(X.tokenize(expr), shape, 2_000_000) is not None


@pytest.mark.parametrize("expr", CHEAP)
def test_common_filters_fit_the_budget_at_10000_interfaces(expr):
    shape = X.Shape.estimate([_data(10000)], _index())
    assert X.cost(X.tokenize(expr), shape, 2_000_000) is not None


@pytest.mark.parametrize("expr", COSTLY)
def test_costly_filters_are_refused_at_1000_interfaces(expr):
    shape = X.Shape.estimate([_data(1000)], _index())
    assert X.cost(X.tokenize(expr), shape, 2_000_000) is None


def test_what_fits_the_budget_runs_fast():
    """The bound is an upper bound in practice: every expression it lets
    through at the default budget runs in well under a second."""
    for n in (10, 100, 1000):
        top = _data(n)
        shape = X.Shape.estimate([top], _index())
        doc = etree.ElementTree(top)
        for expr in CHEAP + COSTLY + SEARCHES:
            if X.cost(X.tokenize(expr), shape, 2_000_000) is None:
                continue
            t = time.perf_counter()
            etree.XPath(expr, namespaces={"m": NS})(doc)
            assert time.perf_counter() - t < 0.5, (n, expr)


@pytest.mark.parametrize("n", [0, 1, 7, 300])
def test_estimate_bounds_the_measured_shape(n):
    """The schema-based estimate is never below the walked shape: the bound
    built on it stays an upper bound."""
    top = _data(n)
    real, est = X.Shape.of([top]), X.Shape.estimate([top], _index())
    assert est.nodes >= real.nodes and est.depth >= real.depth
    for level, f in enumerate(real.fanout[:-1]):
        assert est.fanout[level] >= f and est.subtree[level] >= real.subtree[level], level
    for name, (count, fan, sub, _) in real.names.items():
        e = est.names[name]
        assert (e[0], e[1], e[2]) >= (count, fan, sub) or (
            e[0] >= count and e[1] >= fan and e[2] >= sub
        ), (name, e, real.names[name])


def test_estimate_is_cheap():
    top, index = _data(10000), _index()
    t = time.perf_counter()
    X.Shape.estimate([top], index)
    assert time.perf_counter() - t < 0.25  # a walk of the 10,000 entries, in C


def test_nesting_is_bounded():
    shape = X.Shape.of([_data(3)])
    deep = "/*" + "[*" * 40 + "]" * 40
    assert X.cost(X.tokenize(deep), shape, 10**12, max_depth=32) is None
    assert X.cost(X.tokenize(deep), shape, 10**40, max_depth=64) is not None


def test_unprefixed_names_qualified_and_ambiguous_refused():
    names = {"memif": frozenset({NS}), "id": frozenset({NS, "urn:other"}), "x": frozenset({NS})}
    modules = {"mod": NS, "other": "urn:other"}
    expr = "/memif/x[@x='1']/attribute::x"
    out, nsmap = X.qualify(expr, X.tokenize(expr), {}, modules, names)
    assert out == "/mod:memif/mod:x[@x='1']/attribute::x" and nsmap["mod"] == NS
    expr = "/memif/id"
    with pytest.raises(RpcError) as e:
        X.qualify(expr, X.tokenize(expr), {}, modules, names)
    assert "ambiguous" in e.value.message and "mod" in e.value.message
    # a declared prefix wins; names no module has stay as they are
    expr = "/p:memif/nothing"
    out, nsmap = X.qualify(expr, X.tokenize(expr), {"p": "urn:p"}, modules, names)
    assert out == expr and nsmap["p"] == "urn:p"


# -- notification filters (RFC 5277 create-subscription), over SSH ---------------------------

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
MEMIF = "urn:memif-agent:yang:memif-agent"


def _subscribe(select: str) -> bytes:
    return (
        f'<create-subscription xmlns="{NOTIF}"><filter type="xpath" select="{select}"/>'
        "</create-subscription>".encode()
    )


def test_reference_event_shape_is_the_measured_one():
    """The bound of a notification filter is taken on a 10,000-edit
    config-change whose shape is extrapolated from two small ones: it is the
    shape of the real event."""
    from agent.rpc import notifications

    assert notifications.reference_shape(2000) == X.Shape.of(
        [notifications.config_change_event(2000)]
    )


@pytest.mark.parametrize(
    "select, tag, etype, words",
    [
        ("/" + "a" * 5000, "too-big", "application", "max-xpath-length"),
        ("/*" + "[*" * 40 + "]" * 40, "resource-denied", "application", "max-xpath-depth"),
        (
            "//*[count(//*[count(//*) &gt; 0]) &gt; 0]",
            "resource-denied",
            "application",
            "xpath-budget",
        ),
        ("/nosuch:netconf-session-start", "invalid-value", "protocol", "nosuch"),
        ("/netconf-config-change[", "invalid-value", "protocol", "invalid XPath"),
    ],
)
def test_notification_xpath_filter_limits(start_agent, tmp_path, select, tag, etype, words):
    """The XPath limits of get filters hold for create-subscription: too long,
    too deep, too costly on the biggest event, an unknown prefix, bad syntax;
    each refused with its rpc-error, the session stays up and can subscribe."""
    from agent_harness import Raw, arun

    a = start_agent(tmp_path / "a", "--no-dataplane")

    async def go():
        s = await Raw.open(a.port)
        t = time.perf_counter()
        r = await s.call(_subscribe(select), 1)
        assert time.perf_counter() - t < 2.0
        err = r.find(f"{{{NC}}}rpc-error")
        assert err is not None, etree.tostring(r)
        assert err.findtext(f"{{{NC}}}error-tag") == tag
        assert err.findtext(f"{{{NC}}}error-type") == etype
        assert words in err.findtext(f"{{{NC}}}error-message")
        ok = await s.call(_subscribe("/netconf-session-start"), 2)
        assert ok.find(f"{{{NC}}}ok") is not None, etree.tostring(ok)
        s.close()

    arun(go(), timeout=60)


def test_notification_xpath_filter_resolves_names_and_filters(start_agent, tmp_path):
    """Unprefixed names resolve to the one notification node of that name (as in
    get filters): only config changes that create something are delivered, not
    the replace between them nor session events."""
    from agent_harness import Raw, arun

    a = start_agent(tmp_path / "a", "--no-dataplane")

    def edit(body: str) -> bytes:
        return (
            f"<edit-config><target><running/></target><config><memif xmlns='{MEMIF}'>{body}"
            "</memif></config></edit-config>"
        ).encode()

    sock = "<socket><id>1</id><filename>/tmp/notif-xpath-1.sock</filename></socket>"

    def itf(i: int, ring: int = 10) -> str:
        return (
            f"<interface><socket-id>1</socket-id><id>{i}</id><ring-size>{ring}</ring-size>"
            "</interface>"
        )

    async def go():
        watcher = await Raw.open(a.port)
        r = await watcher.call(_subscribe("/netconf-config-change[edit/operation='create']"), 1)
        assert r.find(f"{{{NC}}}ok") is not None, etree.tostring(r)
        admin = await Raw.open(a.port)
        for mid, body in ((2, sock + itf(1)), (3, itf(1, 12)), (4, itf(2))):
            reply = await admin.call(edit(body), mid)
            assert reply.find(f"{{{NC}}}ok") is not None, etree.tostring(reply)
        admin.close()  # a session-end event: not selected either
        got = [etree.fromstring(await watcher.read()) for _ in range(2)]
        targets = [[t.text for t in ev.iter(f"{{{NCN}}}target")] for ev in got]
        assert all(ev[1].tag == f"{{{NCN}}}netconf-config-change" for ev in got), targets
        # first the memif container (with socket 1 and interface 1), then
        # interface 2: the replace of interface 1's ring-size between them was
        # not delivered
        assert targets[0] == ["/memif-agent:memif"], targets
        assert len(targets[1]) == 1 and "id='2'" in targets[1][0], targets
        other = await Raw.open(a.port)
        other.close()
        with pytest.raises(TimeoutError):
            await watcher.read(timeout=0.5)
        watcher.close()

    arun(go(), timeout=60)


def test_event_bigger_than_the_bound_is_measured_first():
    """An event bigger than the one a filter was bounded on (a config-change of
    more than 10,000 edits): a filter that fits the budget on it runs, one that
    does not is not evaluated and the event is withheld from that subscriber."""
    from agent.rpc import notifications

    ev = notifications.config_change_event(notifications.EVENT_EDITS + 2000)
    cheap = "/ncn:netconf-config-change/ncn:edit[ncn:operation='replace']"
    costly = "//*[count(//*) > 0]"
    ns = {"ncn": NCN}
    for expr, delivered in ((cheap, True), (costly, False)):
        sub = notifications.Subscription(
            "NETCONF", "xpath", etree.XPath(expr, namespaces=ns), X.tokenize(expr)
        )
        t = time.perf_counter()
        assert sub.matches(ev) is delivered, expr
        assert time.perf_counter() - t < 2.0
