"""XPath filters of RFC 5277 create-subscription over SSH: the limits of get
filters hold (each refusal an rpc-error, the session stays up), and names
resolve to the notification nodes they name."""

from __future__ import annotations

import time

import pytest
from lxml import etree

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
MEMIF = "urn:memif-agent:yang:memif-agent"


def _subscribe(select: str) -> bytes:
    return (
        f'<create-subscription xmlns="{NOTIF}"><filter type="xpath" select="{select}"/>'
        "</create-subscription>".encode()
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
