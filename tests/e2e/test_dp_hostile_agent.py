"""Hostile memif peers against the running agent (issue 11): lying region and
interrupt fds, names and reasons that are not UTF-8 or carry control
characters (in both roles), a half handshake, 2,000 held connections with the
agent at RLIMIT_NOFILE 1024, a server publishing ring indices beyond the ring.

One agent (under prlimit --nofile=1024:1024) serves the whole module. After
each attack: a <get> on an open NETCONF session answers within 1 s, a
bystander xconnect (memif2/1 <-> memif2/2, our own dataplane at both ends)
still passes frames, and <get> names what the peer did."""

from __future__ import annotations

import fcntl
import os
import resource
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from agent_harness import AgentProcess
from agent_harness import wait_until as wait
from hostile_peer import ACK, CONNECTED, DISCONNECT, HELLO, HostileClient, HostileServer, msg

from dataplane import Dataplane

NS = "urn:memif-agent:yang:memif-agent"
P = {"m": NS}
VICTIM, BYSTANDER, CLIENTS, HALF = 1, 2, 3, 4  # socket ids


class LimitedAgent(AgentProcess):
    """The agent at the usual RLIMIT_NOFILE of 1024 (soft and hard)."""

    def command(self) -> list[str]:
        return ["prlimit", "--nofile=1024:1024", "--", *super().command()]


@dataclass
class Rig:
    agent: AgentProcess
    m: object  # ncclient manager, open for the whole module
    victim: str
    clients: str
    half: str
    bystander: Dataplane


def _leaves(el) -> dict[str, str]:
    from lxml import etree

    out = {etree.QName(c).localname: c.text or "" for c in el if len(c) == 0}
    for c in el.iterfind(f"{{{NS}}}counters/*"):
        out[etree.QName(c).localname] = c.text or ""
    return out


def itf_state(m, sid: int, iid: int) -> dict[str, str]:
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data
    el = d.xpath(f"//m:interface[m:socket-id='{sid}'][m:id='{iid}']/m:state", namespaces=P)
    return _leaves(el[0]) if el else {}


def sock_state(m, sid: int) -> dict[str, str]:
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data
    el = d.xpath(f"//m:socket[m:id='{sid}']/m:state", namespaces=P)
    return _leaves(el[0]) if el else {}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    ag = LimitedAgent(work / "agent").start()
    by = None
    try:
        m = ag.connect()
        victim, bys = str(work / "victim.sock"), str(work / "bystander.sock")
        clients, half = str(work / "clients.sock"), str(work / "half.sock")
        body = f"<socket><id>{VICTIM}</id><filename>{victim}</filename></socket>"
        body += f"<socket><id>{BYSTANDER}</id><filename>{bys}</filename></socket>"
        body += f"<socket><id>{CLIENTS}</id><filename>{clients}</filename></socket>"
        body += f"<socket><id>{HALF}</id><filename>{half}</filename></socket>"
        for iid in range(1, 11):
            body += f"<interface><socket-id>{VICTIM}</socket-id><id>{iid}</id>"
            body += "<enabled>true</enabled></interface>"
        for iid, peer in ((1, 2), (2, 1)):
            body += f"<interface><socket-id>{BYSTANDER}</socket-id><id>{iid}</id>"
            body += f"<enabled>true</enabled><xconnect>memif{BYSTANDER}/{peer}</xconnect>"
            body += "</interface>"
        for sid in (CLIENTS, HALF):
            body += f"<interface><socket-id>{sid}</socket-id><id>1</id><role>client</role>"
            body += "<enabled>true</enabled></interface>"
        m.edit_config(
            target="running", config=f'<config><memif xmlns="{NS}">{body}</memif></config>'
        )
        by = Dataplane("bystander")
        by.add_socket(BYSTANDER, bys)
        by.add_interface(BYSTANDER, 1, role="client", enabled=True)
        by.add_interface(BYSTANDER, 2, role="client", enabled=True, rx_mode="python")
        for iid in (1, 2):
            wait(
                lambda i=iid: by.interface_state(BYSTANDER, i)["link-status"] == "up",
                what="the bystander links",
            )
        yield Rig(ag, m, victim, clients, half, by)
    finally:
        if by is not None:
            by.close()
        ag.stop()


def bystander_passes(rig: Rig) -> None:
    """Frames sent into memif2/1 come out of memif2/2 (the agent's xconnect)."""
    frame = b"\xff" * 6 + b"\x02\xfe\x00\x00\x00\x01" + b"\x88\xb5" + b"B" * 50
    while rig.bystander.rx_burst(BYSTANDER, 2, 0, 256)[1]:
        pass  # what earlier checks left
    got = 0
    end = time.monotonic() + 3
    while got < 8:
        assert time.monotonic() < end, "the bystander xconnect stopped passing frames"
        if got == 0:
            rig.bystander.tx_burst(BYSTANDER, 1, 0, frame * 8, [len(frame)] * 8)
        data, lens = rig.bystander.rx_burst(BYSTANDER, 2, 0, 256)
        got += len(lens)
        time.sleep(0.01)


def answers_fast(rig: Rig) -> None:
    t = time.monotonic()
    rig.m.get(filter=("subtree", f'<memif xmlns="{NS}"/>'))
    elapsed = time.monotonic() - t
    assert elapsed < 1.0, f"<get> took {elapsed:.2f}s"
    assert rig.agent.running


def survived(rig: Rig) -> None:
    answers_fast(rig)
    bystander_passes(rig)


def until_reason(rig: Rig, iid: int, leaf: str, expect: str, sid: int = VICTIM) -> dict:
    return wait(
        lambda: (s := itf_state(rig.m, sid, iid)).get(leaf) == expect and s,
        what=f"{leaf} == {expect!r}",
    )


def handshake_to_rings(c: HostileClient, iid: int, **region) -> None:
    c.hello()
    assert c.init(iid) == ACK
    fd, size = c.make_region(**region)
    assert c.add_region(fd, size) == ACK


# -- regions ------------------------------------------------------------------------------


def test_unsealed_region_is_refused(rig) -> None:
    c = HostileClient(rig.victim)
    c.hello()
    assert c.init(1) == ACK
    fd, size = c.make_region(seal=False)
    c.add_region(fd, size)
    assert c.expect_disconnect() == "region fd not sealed against shrinking"
    # what the unsealed region was for: it can shrink, but nothing maps it
    os.ftruncate(fd, 0)
    c.close()
    until_reason(rig, 1, "local-disconnect-reason", "region fd not sealed against shrinking")
    survived(rig)


def test_region_that_is_not_a_memfd_is_refused(rig, tmp_path) -> None:
    c = HostileClient(rig.victim)
    c.hello()
    assert c.init(1) == ACK
    f = tmp_path / "plain"
    f.write_bytes(b"\0" * 8192)
    fd = os.open(f, os.O_RDWR)
    try:  # a tmpfs file answers F_GET_SEALS (F_SEAL_SEAL) but has no shrink seal either
        fcntl.fcntl(fd, fcntl.F_GET_SEALS)
        reason = "region fd not sealed against shrinking"
    except OSError:
        reason = "region fd is not a sealable memfd"
    c.add_region(fd, 8192)
    os.close(fd)
    assert c.expect_disconnect() == reason
    c.close()
    until_reason(rig, 1, "local-disconnect-reason", reason)
    survived(rig)


def test_region_truncated_before_connect(rig) -> None:
    # sealed: the truncation itself fails, before and after CONNECT alike
    c = HostileClient(rig.victim)
    handshake_to_rings(c, 1)
    with pytest.raises(PermissionError):
        os.ftruncate(c.fds[0], 0)
    assert c.add_ring(True, 0) == ACK
    assert c.add_ring(False, c.ring_bytes) == ACK
    assert c.connect_msg() == CONNECTED
    c.close()
    # a sealed region smaller than announced
    c = HostileClient(rig.victim)
    c.hello()
    assert c.init(1) == ACK
    fd, size = c.make_region()
    c.add_region(fd, size + 4096)
    assert c.expect_disconnect() == "region size larger than its file"
    c.close()
    until_reason(rig, 1, "local-disconnect-reason", "region size larger than its file")
    survived(rig)


def test_region_truncated_after_connect(rig) -> None:
    c = HostileClient(rig.victim)
    c.full_handshake(2)
    until_reason(rig, 2, "link-status", "up")
    with pytest.raises(PermissionError):
        os.ftruncate(c.fds[0], 0)
    with pytest.raises(PermissionError):
        os.ftruncate(c.fds[0], 4096)
    # the ring still carries frames, and <get> reads its head and tail
    c.region[c.buf_off : c.buf_off + 60] = b"T" * 60
    c.put_s2m([(0, 0, 60, c.buf_off)] * 3)
    os.eventfd_write(c.s2m_efd, 1)
    wait(lambda: int(itf_state(rig.m, VICTIM, 2).get("rx-packets", 0)) >= 3, what="rx-packets")
    survived(rig)
    c.close()
    until_reason(rig, 2, "local-disconnect-reason", "peer closed the connection")


# -- interrupt fds ------------------------------------------------------------------------


def _stream_socket_fd(keep: list) -> int:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT, 8)
    keep += [a, b]
    return a.fileno()


def _blocking_pipe_fd(keep: list) -> int:
    r, w = os.pipe()
    keep += [r, w]
    return w  # a full blocking pipe blocks its writer


def _hung_up_pipe_fd(keep: list) -> int:
    r, w = os.pipe()
    os.close(w)
    keep.append(r)
    return r  # EPOLLHUP forever


@pytest.mark.parametrize("make_fd", [_stream_socket_fd, _blocking_pipe_fd, _hung_up_pipe_fd])
@pytest.mark.parametrize("s2m", [True, False])
def test_interrupt_fd_that_is_not_an_eventfd(rig, make_fd, s2m) -> None:
    keep: list = []
    c = HostileClient(rig.victim)
    handshake_to_rings(c, 3)
    if not s2m:
        assert c.add_ring(True, 0) == ACK
    c.add_ring(s2m, 0 if s2m else c.ring_bytes, fd=make_fd(keep))
    assert c.expect_disconnect() == "interrupt fd is not an eventfd"
    c.close()
    for k in keep:
        if isinstance(k, int):
            os.close(k)
        else:
            k.close()
    until_reason(rig, 3, "local-disconnect-reason", "interrupt fd is not an eventfd")
    survived(rig)


def test_eventfd_made_blocking_after_connect(rig) -> None:
    c = HostileClient(rig.victim)
    c.full_handshake(4)
    until_reason(rig, 4, "link-status", "up")
    # The peer shares the open file description: it can clear O_NONBLOCK on the
    # eventfd it kicks us on. The dataplane never reads that counter (its
    # interrupts are edge-triggered), so nothing can block: kicks are still
    # counted and the link stays up. (A kick we would write to a blocking
    # eventfd: tests/interop/test_dp_hostile.py.)
    fcntl.fcntl(c.s2m_efd, fcntl.F_SETFL, 0)
    before = int(until_reason(rig, 4, "link-status", "up").get("interrupts", 0))
    for _ in range(3):
        os.eventfd_write(c.s2m_efd, 1)
        survived(rig)
    wait(lambda: int(itf_state(rig.m, VICTIM, 4).get("interrupts", 0)) > before, what="kicks")
    assert itf_state(rig.m, VICTIM, 4)["link-status"] == "up"
    c.close()
    until_reason(rig, 4, "link-status", "down")
    survived(rig)


# -- peer strings -------------------------------------------------------------------------


def test_server_role_names_and_reasons_escaped(rig) -> None:
    notes = rig.agent.connect()
    notes.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    c = HostileClient(rig.victim)
    # 31 bytes: 15 x "é" and a lead byte cut off, as libmemif truncates names
    c.full_handshake(5, name="é".encode() * 15 + b"\xc3", if_name=b"ctl\x01\x1b[31m\x7f")
    st = until_reason(rig, 5, "link-status", "up")
    assert st["remote-name"] == "é" * 15 + "\\xc3"
    assert st["remote-interface-name"] == "ctl\\x01\\x1b[31m\\x7f"
    c.disconnect(b"bye \xff\x02\xef\xbf\xbe")
    st = until_reason(rig, 5, "link-status", "down")
    assert st["remote-disconnect-reason"] == "bye \\xff\\x02\\ufffe"
    assert st["remote-name"] == "é" * 15 + "\\xc3"  # kept after the link went down
    c.close()

    def down_note():
        n = notes.take_notification(block=True, timeout=1)
        return n if n and "<link-status>down</link-status>" in n.notification_xml else None

    n = wait(down_note, what="the link-down notification")
    assert "bye \\xff\\x02\\ufffe" in n.notification_xml
    survived(rig)


def test_refused_peer_name_escaped(rig) -> None:
    c = HostileClient(rig.victim)
    c.hello()
    c.init(99, name=b"\x01evil\xff\n")
    assert c.expect_disconnect() == "unmatched interface id"
    c.close()
    wait(
        lambda: (
            sock_state(rig.m, VICTIM).get("last-refusal")
            == "\\x01evil\\xff\\x0a for interface 99: unmatched interface id"
        ),
        what="last-refusal",
    )
    survived(rig)


def test_client_role_hostile_server(rig) -> None:
    """Our client facing a server whose names are not UTF-8 and which publishes
    a tail far beyond the ring it shares with us."""
    srv = HostileServer(rig.clients, name=b"srv\x01\xff")
    try:
        srv.accept()
        srv.handshake(if_name=b"\xe9\xe9\x00")
        st = until_reason(rig, 1, "link-status", "up", sid=CLIENTS)
        assert st["remote-name"] == "srv\\x01\\xff"
        assert st["remote-interface-name"] == "\\xe9\\xe9"
        srv.set_tail(False, 0x8000)  # M2S: the ring we receive on
        wait(
            lambda: int(itf_state(rig.m, CLIENTS, 1).get("ring-overruns", 0)) > 0,
            what="ring-overruns",
        )
        log = rig.agent.wait_log("ring overrun")
        srv.set_tail(False, 0x4000)
        time.sleep(0.3)  # a second overrun on the same link: still one log line
        assert rig.agent.log().count("ring overrun") == log.count("ring overrun") == 1
        srv.send(msg(DISCONNECT, "I96s", 0, b"\xff\x01gone"))
        st = until_reason(rig, 1, "link-status", "down", sid=CLIENTS)
        assert st["remote-disconnect-reason"] == "\\xff\\x01gone"
    finally:
        srv.close()
    survived(rig)


# -- time and numbers ---------------------------------------------------------------------


def test_half_handshake_dropped_within_the_bound(rig) -> None:
    c = HostileClient(rig.victim)
    t0 = time.monotonic()
    c.hello()
    assert c.init(6) == ACK
    c.sock.settimeout(10)
    assert c.expect_disconnect() == "handshake timeout"
    took = time.monotonic() - t0
    assert 2.5 < took < 5.0, f"dropped after {took:.2f}s (bound 3 s)"
    c.close()
    until_reason(rig, 6, "local-disconnect-reason", "handshake timeout")
    survived(rig)
    c = HostileClient(rig.victim)  # the id is free again
    c.full_handshake(6)
    until_reason(rig, 6, "link-status", "up")
    c.close()


def test_half_handshake_against_our_client(rig) -> None:
    srv = HostileServer(rig.half)
    try:
        srv.accept()
        assert srv.recv()[0] != 0  # the INIT, never answered
        until_reason(rig, 1, "local-disconnect-reason", "handshake timeout", sid=HALF)
    finally:
        srv.close()
    survived(rig)


def _cpu_seconds(pid: int) -> float:
    """CPU time of the agent and its live descendants (a dataplane process, if any)."""
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            for t in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (t / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _served(rig: Rig, iid: int) -> HostileClient | None:
    c = HostileClient(rig.victim)
    if c.recv()[0] != HELLO:
        c.close()
        return None  # "too many pending connections"
    c.full_handshake(iid, hello=False)
    return c


def test_2000_held_connections_at_rlimit_1024(rig) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    held: list[socket.socket] = []
    try:
        end = time.monotonic() + 60
        while len(held) < 2000:
            assert time.monotonic() < end, f"only {len(held)} connections made"
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK)
            try:
                s.connect(rig.victim)
            except BlockingIOError:  # backlog full for a moment
                s.close()
                time.sleep(0.001)
                continue
            held.append(s)
        st = sock_state(rig.m, VICTIM)
        assert int(st["dropped-connections"]) > 0
        assert int(st["pending-connections"]) <= 64
        pid = rig.agent.proc.pid
        cpu = _cpu_seconds(pid)
        time.sleep(1.0)
        used = _cpu_seconds(pid) - cpu
        assert used < 0.3, f"the agent used {used:.2f}s of CPU in 1 s while held"
        survived(rig)
        fresh = rig.agent.connect()  # new SSH sessions are still accepted
        fresh.get(filter=("subtree", f'<memif xmlns="{NS}"/>'))
        fresh.close_session()
        # a peer arriving now is refused while the squatters fill the pending
        # slots, and served once the handshake bound has cleared them
        c = wait(lambda: _served(rig, 7), timeout=10, what="a good peer served")
        until_reason(rig, 7, "link-status", "up")
        c.close()
    finally:
        for s in held:
            s.close()
    wait(lambda: sock_state(rig.m, VICTIM)["pending-connections"] == "0", what="pending drained")
    survived(rig)
