"""Commits drive the dataplane, end to end: ncclient over SSH to an agent with
its dataplane, dpdk-testpmd (and our own dataplane) as memif peers."""

from __future__ import annotations

import time

import pytest
from agent_harness import wait_until as wait
from lxml import etree
from ncclient.operations.rpc import RPCError
from testpmd import TestPmd

from dataplane import Dataplane

NS = "urn:memif-agent:yang:memif-agent"
IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
P = {"m": NS, "if": IF_NS}




def states(m, *keys: tuple[int, int]) -> list[dict[str, str]]:
    """The state leaves and counters of each (socket-id, id), from one <get>."""
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data
    found = []
    for sid, iid in keys:
        el = d.xpath(f"//m:interface[m:socket-id='{sid}'][m:id='{iid}']/m:state", namespaces=P)
        out: dict[str, str] = {}
        if el:
            out = {etree.QName(c).localname: c.text or "" for c in el[0] if len(c) == 0}
            for c in el[0].iterfind(f"{{{NS}}}counters/*"):
                out[etree.QName(c).localname] = c.text or ""
        found.append(out)
    return found


def state(m, sid: int, iid: int) -> dict[str, str]:
    return states(m, (sid, iid))[0]


def cfg(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def server_itf(sid: int, iid: int, enabled: str = "true", extra: str = "") -> str:
    return (
        f"<interface><socket-id>{sid}</socket-id><id>{iid}</id>"
        f"<enabled>{enabled}</enabled>{extra}</interface>"
    )


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a")


def test_commit_creates_interface_testpmd_connects(ag, tmp_path) -> None:
    sock = str(tmp_path / "memif23.sock")
    m = ag.connect()
    # link events only: the commit's RFC 6470 config-change is not what this waits for
    m.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    m.edit_config(
        target="candidate",
        config=cfg(
            f"<socket><id>23</id><filename>{sock}</filename></socket>" + server_itf(23, 100)
        ),
    )
    m.commit()
    st = state(m, 23, 100)
    assert st["link-status"] == "down" and st["connection-state"] == "listening"
    assert st["mac-address"].startswith("02:fe:")
    pmd = TestPmd(sock, "client", if_id=100, forward="txonly", txpkts=64)
    try:
        wait(lambda: state(m, 23, 100)["link-status"] == "up")
        n = wait(lambda: m.take_notification(block=True, timeout=1))
        assert "<link-status>up</link-status>" in n.notification_xml
        assert "<name>memif23/100</name>" in n.notification_xml
        st = state(m, 23, 100)
        assert st["remote-name"].startswith("DPDK") and st["ring-size"] == "1024"
        # traffic moves the counters, in our model and in ietf-interfaces
        pmd.start()
        wait(lambda: int(state(m, 23, 100)["rx-packets"]) > 1000)
        pmd.send("stop")
        d = m.get(filter=("subtree", f'<interfaces xmlns="{IF_NS}"/>')).data
        assert (
            int(
                d.xpath(
                    "//if:interface[if:name='memif23/100']/if:statistics/if:in-unicast-pkts/text()",
                    namespaces=P,
                )[0]
            )
            > 1000
        )
        assert d.xpath(
            "//if:interface[if:name='memif23/100']/if:oper-status/text()", namespaces=P
        ) == ["up"]
        # disable: link down with its reason, and a notification
        m.edit_config(target="running", config=cfg(server_itf(23, 100, "false")))
        st = wait(lambda: (s := state(m, 23, 100))["link-status"] == "down" and s)
        assert st["local-disconnect-reason"] == "admin down"
        n = wait(
            lambda: (
                (x := m.take_notification(block=True, timeout=1))
                and "<link-status>down</link-status>" in x.notification_xml
                and x
            )
        )
        assert "admin down" in n.notification_xml
    finally:
        pmd.quit()


def test_our_client_to_testpmd_server_and_restart(ag, tmp_path) -> None:
    sock = str(tmp_path / "pmd.sock")
    pmd = TestPmd(sock, "server", if_id=4, forward="rxonly")
    m = ag.connect()
    m.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>2</id><filename>{sock}</filename></socket>"
            + server_itf(2, 4, extra="<role>client</role>")
        ),
    )
    try:
        wait(lambda: state(m, 2, 4).get("link-status") == "up")
        mac = state(m, 2, 4)["mac-address"]
        ag.restart()  # the running config comes back from disk and is re-applied
        m = ag.connect()
        wait(lambda: state(m, 2, 4).get("link-status") == "up")
        assert state(m, 2, 4)["mac-address"] == mac  # generated once, kept
        # deleting the interface disconnects the peer
        m.edit_config(
            target="running",
            config=cfg(
                f'<interface xmlns:nc="{NC}" nc:operation="delete"><socket-id>2</socket-id>'
                "<id>4</id></interface>"
            ),
        )
        def pmd_link() -> str:
            mark = len(pmd.out)
            pmd.send("show port info 0")
            return pmd.wait_for(r"Link status:\s*(\w+)", start=mark).group(1)

        wait(lambda: pmd_link() == "down", what="testpmd sees its link down")
    finally:
        pmd.quit()


def test_failed_apply_changes_nothing(ag, tmp_path) -> None:
    busy = str(tmp_path / "busy.sock")
    other = Dataplane("squatter")  # another process listens on the file
    other.add_socket(1, busy)
    other.add_interface(1, 1, role="server")
    try:
        m = ag.connect()
        good = str(tmp_path / "good.sock")
        m.edit_config(
            target="running",
            config=cfg(
                f"<socket><id>1</id><filename>{good}</filename></socket>" + server_itf(1, 1)
            ),
        )
        before = (ag.state_dir / "running.xml").read_bytes()
        m.edit_config(
            target="candidate",
            config=cfg(
                f"<socket><id>5</id><filename>{tmp_path / 'new.sock'}</filename></socket>"
                + server_itf(5, 1)
                + f"<socket><id>6</id><filename>{busy}</filename></socket>"
                + server_itf(6, 1)
            ),
        )
        with pytest.raises(RPCError) as exc:
            m.commit()
        e = exc.value
        assert e.tag == "operation-failed" and "memif6/1" in e.message
        assert "address in use" in e.message
        assert e.path.strip() == "/memif:memif/memif:interface[memif:socket-id='6'][memif:id='1']"
        assert (ag.state_dir / "running.xml").read_bytes() == before
        # the step done before the failure was undone: socket 5 is not listening
        d = m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data
        assert d.xpath("//m:socket[m:id='5']", namespaces=P) == []
        assert not (tmp_path / "new.sock").exists()
        assert state(m, 1, 1)["connection-state"] == "listening"
    finally:
        other.close()


def test_socket0_always_in_get(ag) -> None:
    m = ag.connect()
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><socket><id>0</id></socket></memif>')).data
    assert d.xpath("//m:socket[m:id='0']/m:filename/text()", namespaces=P) == [ag.socket0]
    m.edit_config(target="running", config=cfg(server_itf(0, 9)))
    assert state(m, 0, 9)["connection-state"] == "listening"


def test_two_agents_xconnect_two_testpmds(start_agent, tmp_path) -> None:
    """testpmd -> agent A (xconnect) -> memif A<->B -> agent B (xconnect) -> testpmd."""
    src_sock, ab_sock, dst_sock = (str(tmp_path / n) for n in ("src.sock", "ab.sock", "dst.sock"))
    a, b = start_agent(tmp_path / "a"), start_agent(tmp_path / "b")
    ma, mb = a.connect(), b.connect()
    mb.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>1</id><filename>{ab_sock}</filename></socket>"
            f"<socket><id>2</id><filename>{dst_sock}</filename></socket>"
            + server_itf(1, 0, extra="<xconnect>memif2/0</xconnect>")
            + server_itf(2, 0)
        ),
    )
    ma.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>1</id><filename>{src_sock}</filename></socket>"
            f"<socket><id>2</id><filename>{ab_sock}</filename></socket>"
            + server_itf(1, 0, extra="<xconnect>memif2/0</xconnect>")
            + server_itf(2, 0, extra="<role>client</role>")
        ),
    )
    src = TestPmd(src_sock, "client", if_id=0, forward="txonly", txpkts=64, cores="0@0,1@1")
    dst = TestPmd(dst_sock, "client", if_id=0, forward="rxonly", cores="0@1,1@0")
    try:
        wait(
            lambda: all(state(m, s, 0).get("link-status") == "up" for m in (ma, mb) for s in (1, 2))
        )
        dst.start()
        src.start()
        time.sleep(1.0)
        src.send("stop")
        sent = wait(lambda: src.stats()["tx"], what="src's count")

        def drained():
            # Read upstream first: once A took every frame src sent and B took
            # every frame A passed on, B's count is final, and dst must reach it
            # (the pair only forwards or counts a drop, never invents). Equal
            # counts at one stage alone can be a moment between two bursts.
            a_in, a_out = states(ma, (1, 0), (2, 0))
            if int(a_in["rx-packets"]) != sent:
                return None
            b_in, b_out = states(mb, (1, 0), (2, 0))
            if int(b_in["rx-packets"]) != int(a_out["tx-packets"]):
                return None
            received = dst.stats()["rx"]
            return received if received == int(b_out["tx-packets"]) else None

        received = wait(drained, what="every frame through both agents")
        dst.send("stop")
        assert received > 10_000
        b_in, b_out = states(mb, (1, 0), (2, 0))
        assert dst.stats()["rx"] == received == int(b_out["tx-packets"])
        # whatever A passed on that B did not count a drop of reached dst
        assert int(b_in["rx-packets"]) == received + int(b_out["tx-drops"])
    finally:
        src.quit()
        dst.quit()


def test_socket_file_owner_group_mode(start_agent, tmp_path) -> None:
    import os
    import stat

    ag = start_agent(
        tmp_path / "a", "--socket-mode", "640", "--socket-owner", "0", "--socket-group", "daemon"
    )
    m = ag.connect()
    sock = tmp_path / "perm" / "m.sock"
    m.edit_config(
        target="running",
        config=cfg(f"<socket><id>3</id><filename>{sock}</filename></socket>" + server_itf(3, 1)),
    )
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640
    import grp

    assert (st.st_uid, st.st_gid) == (0, grp.getgrnam("daemon").gr_gid)
