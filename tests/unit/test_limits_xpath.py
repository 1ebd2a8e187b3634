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


# -- notification filters (RFC 5277 create-subscription); over SSH in
# tests/e2e/test_notification_xpath.py -----------------------------------------------------

NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


def test_reference_event_shape_is_the_measured_one():
    """The bound of a notification filter is taken on a 10,000-edit
    config-change whose shape is extrapolated from two small ones: it is the
    shape of the real event."""
    from agent.rpc import notifications

    assert notifications.reference_shape(2000) == X.Shape.of(
        [notifications.config_change_event(2000)]
    )


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
