"""RFC 6470 netconf-config-change and netconf-confirmed-commit, received by a
subscribed ncclient session while another session changes the datastores."""

from __future__ import annotations

import pytest
from lxml import etree

NS = "urn:memif-agent:yang:memif-agent"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
N = {"n": NCN}


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


def cfg(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def itf(iid: int, extra: str = "") -> str:
    return f"<interface><socket-id>1</socket-id><id>{iid}</id>{extra}</interface>"


SOCKET = "<socket><id>1</id><filename>/tmp/ev.sock</filename></socket>"


def next_event(m, name: str, timeout: float = 5) -> etree._Element:
    """The next notification called `name`, skipping session start/end events."""
    while True:
        n = m.take_notification(block=True, timeout=timeout)
        assert n is not None, f"no {name} within {timeout}s"
        ev = etree.fromstring(n.notification_xml.encode())[1]
        if etree.QName(ev).localname == name:
            return ev


def edits(ev: etree._Element) -> list[tuple[str, str]]:
    return [
        (e.findtext(f"{{{NCN}}}operation"), e.findtext(f"{{{NCN}}}target"))
        for e in ev.iterfind(f"{{{NCN}}}edit")
    ]


def test_config_change_on_commit_names_each_edit(ag) -> None:
    watcher, editor = ag.connect(), ag.connect()
    watcher.create_subscription()
    editor.edit_config(target="candidate", config=cfg(SOCKET + itf(1) + itf(2)))
    editor.commit()
    ev = next_event(watcher, "netconf-config-change")
    assert ev.findtext("n:changed-by/n:username", namespaces=N) == "admin"
    assert ev.findtext("n:changed-by/n:session-id", namespaces=N) == editor.session_id
    assert ev.findtext("n:changed-by/n:source-host", namespaces=N) == "127.0.0.1"
    assert ev.findtext("n:datastore", namespaces=N) == "running"
    # the new top container only: what it holds is created with it
    assert edits(ev) == [("create", "/memif-agent:memif")]

    nc = "urn:ietf:params:xml:ns:netconf:base:1.0"
    editor.edit_config(
        target="candidate",
        config=(
            f'<config><memif xmlns="{NS}" xmlns:nc="{nc}">'
            + itf(1, "<ring-size>12</ring-size>")
            + itf(3)
            + '<interface nc:operation="delete"><socket-id>1</socket-id><id>2</id></interface>'
            + "</memif></config>"
        ),
    )
    editor.commit()
    ev = next_event(watcher, "netconf-config-change")
    entry = (
        "/memif-agent:memif/memif-agent:interface[memif-agent:socket-id='1'][memif-agent:id='{}']"
    )
    assert sorted(edits(ev)) == sorted(
        [
            ("create", entry.format(1) + "/memif-agent:ring-size"),
            ("delete", entry.format(2)),
            ("create", entry.format(3)),
        ]
    )
    # each target's prefix is declared where it is used: an instance-identifier
    target = ev.find("n:edit/n:target", namespaces=N)
    assert target.nsmap["memif-agent"] == NS
    tree = editor.get_config("running").data
    for _, path in edits(ev):
        if "id='2'" not in path:
            prefixes = {p: uri for p, uri in target.nsmap.items() if p}
            assert len(tree.xpath("." + path, namespaces=prefixes)) == 1

    editor.edit_config(target="running", config=cfg(itf(1, "<ring-size>13</ring-size>")))
    assert edits(next_event(watcher, "netconf-config-change")) == [
        ("replace", entry.format(1) + "/memif-agent:ring-size")
    ]


def test_no_event_without_change_and_startup_events(ag) -> None:
    watcher, editor = ag.connect(), ag.connect()
    watcher.create_subscription()
    editor.commit()  # nothing to commit
    editor.copy_config(source="running", target="startup")  # both empty: no change
    editor.edit_config(target="running", config=cfg(SOCKET))
    ev = next_event(watcher, "netconf-config-change")
    assert ev.findtext("n:datastore", namespaces=N) == "running"  # the first one is this
    editor.copy_config(source="running", target="startup")
    ev = next_event(watcher, "netconf-config-change")
    assert ev.findtext("n:datastore", namespaces=N) == "startup"
    assert edits(ev) == [("create", "/memif-agent:memif")]
    editor.delete_config(target="startup")
    ev = next_event(watcher, "netconf-config-change")
    assert (ev.findtext("n:datastore", namespaces=N), edits(ev)) == (
        "startup",
        [("delete", "/memif-agent:memif")],
    )


def test_confirmed_commit_events(ag) -> None:
    watcher, editor = ag.connect(), ag.connect()
    watcher.create_subscription()
    editor.edit_config(target="candidate", config=cfg(SOCKET))
    editor.commit(confirmed=True, timeout="30")
    ev = next_event(watcher, "netconf-confirmed-commit")
    assert ev.findtext("n:confirm-event", namespaces=N) == "start"
    assert ev.findtext("n:timeout", namespaces=N) == "30"
    assert ev.findtext("n:session-id", namespaces=N) == editor.session_id
    editor.commit(confirmed=True, timeout="40")
    ev = next_event(watcher, "netconf-confirmed-commit")
    assert (
        ev.findtext("n:confirm-event", namespaces=N),
        ev.findtext("n:timeout", namespaces=N),
    ) == (
        "extend",
        "40",
    )
    editor.commit()
    ev = next_event(watcher, "netconf-confirmed-commit")
    assert ev.findtext("n:confirm-event", namespaces=N) == "complete"
    assert ev.find("n:timeout", namespaces=N) is None

    # cancel-commit: the rollback is a change made by the agent itself
    editor.edit_config(target="candidate", config=cfg(itf(1)))
    editor.commit(confirmed=True)
    assert (
        next_event(watcher, "netconf-confirmed-commit").findtext("n:timeout", namespaces=N) == "600"
    )
    editor.cancel_commit()
    ev = next_event(watcher, "netconf-confirmed-commit")
    assert ev.findtext("n:confirm-event", namespaces=N) == "cancel"
    assert ev.findtext("n:username", namespaces=N) == "admin"
    ev = next_event(watcher, "netconf-config-change")
    assert ev.find("n:changed-by/n:server", namespaces=N) is not None
    assert [op for op, _ in edits(ev)] == ["delete"]


def test_confirmed_commit_timeout_and_session_end_events(ag) -> None:
    watcher, editor = ag.connect(), ag.connect()
    watcher.create_subscription()
    editor.edit_config(target="candidate", config=cfg(SOCKET))
    editor.commit(confirmed=True, timeout="1")
    assert (
        next_event(watcher, "netconf-confirmed-commit").findtext("n:confirm-event", namespaces=N)
        == "start"
    )
    ev = next_event(watcher, "netconf-confirmed-commit", timeout=10)
    assert ev.findtext("n:confirm-event", namespaces=N) == "timeout"
    assert ev.find("n:session-id", namespaces=N) is None  # no session parms on timeout

    sid = editor.session_id
    editor.edit_config(target="candidate", config=cfg(SOCKET))
    editor.commit(confirmed=True)
    next_event(watcher, "netconf-confirmed-commit")
    editor.close_session()
    ev = next_event(watcher, "netconf-confirmed-commit")
    assert ev.findtext("n:confirm-event", namespaces=N) == "cancel"
    # the session that ended, although it is gone by now
    assert (ev.findtext("n:session-id", namespaces=N), ev.findtext("n:username", namespaces=N)) == (
        sid,
        "admin",
    )


def test_filtered_subscriptions(ag) -> None:
    startup_only, links_only, editor = ag.connect(), ag.connect(), ag.connect()
    startup_only.create_subscription(
        filter=(
            "subtree",
            f'<netconf-config-change xmlns="{NCN}"><datastore>startup</datastore>'
            "</netconf-config-change>",
        )
    )
    links_only.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    editor.edit_config(target="running", config=cfg(SOCKET))
    editor.copy_config(source="running", target="startup")
    ev = next_event(startup_only, "netconf-config-change")
    assert ev.findtext("n:datastore", namespaces=N) == "startup"  # the running one was not sent
    assert links_only.take_notification(block=True, timeout=0.3) is None


def test_subscription_may_want() -> None:
    from agent.rpc.notifications import Subscription

    links = Subscription("NETCONF", "subtree", [etree.Element(f"{{{NS}}}link-state-change")])
    assert links.may_want(f"{{{NS}}}link-state-change")
    assert not links.may_want(f"{{{NCN}}}netconf-config-change")  # no diff worked out for it
    any_ns = Subscription("NETCONF", "subtree", [etree.Element("netconf-config-change")])
    assert any_ns.may_want(f"{{{NCN}}}netconf-config-change")
    assert Subscription("NETCONF", None, None).may_want(f"{{{NCN}}}netconf-config-change")
    assert Subscription("NETCONF", "xpath", None).may_want(f"{{{NCN}}}netconf-config-change")


def test_key_values_with_slashes_and_colons(ag) -> None:
    watcher, editor = ag.connect(), ag.connect()
    watcher.create_subscription()
    nacm = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    editor.edit_config(
        target="running",
        config=(
            f'<config><nacm xmlns="{nacm}"><rule-list><name>ops/a:b</name>'
            "<group>ops</group></rule-list></nacm></config>"
        ),
    )
    ev = next_event(watcher, "netconf-config-change")
    (target,) = ev.iterfind("n:edit/n:target", namespaces=N)
    assert target.text == "/ietf-netconf-acm:nacm"
    assert target.nsmap == {"ietf-netconf-acm": nacm, None: NCN}
    editor.edit_config(
        target="running",
        config=(
            f'<config><nacm xmlns="{nacm}"><rule-list><name>ops/a:b</name>'
            "<group>ops2</group></rule-list></nacm></config>"
        ),
    )
    ev = next_event(watcher, "netconf-config-change")
    rl = "/ietf-netconf-acm:nacm/ietf-netconf-acm:rule-list[ietf-netconf-acm:name='ops/a:b']"
    assert edits(ev) == [("create", rl + "/ietf-netconf-acm:group[.='ops2']")]  # merged in
    assert set(ev.find("n:edit/n:target", namespaces=N).nsmap) == {"ietf-netconf-acm", None}
