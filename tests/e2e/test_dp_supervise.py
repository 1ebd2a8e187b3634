"""The dataplane runs in its own process, supervised by the agent (issue 11):
the control channel's codec and reply checks with byte vectors, a hostile
dataplane process, and over real SSH with a real memif peer: SIGSEGV, SIGSTOP
and SIGKILL of the dataplane process cost the links only, the agent keeps
answering, names the reason, restarts it and the links come back."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
import textwrap
import time

import pytest
from agent_harness import wait_until as wait
from lxml import etree
from ncclient.operations.rpc import RPCError

from dataplane import Dataplane
from dataplane import control_codec as cc
from dataplane import control_replies as check
from dataplane.remote import DataplaneLost, RemoteDataplane

NS = "urn:memif-agent:yang:memif-agent"
P = {"m": NS}


# -- codec ---------------------------------------------------------------------------------


def test_codec_byte_vectors() -> None:
    assert cc.encode(cc.REQUEST, 7, {"method": "ping"}) == (
        b"\x00\x01\x00\x01\x00\x00\x00\x07\x00\x00\x00\x11" + b'{"method":"ping"}'
    )
    # non-ASCII is escaped: the payload is ASCII JSON
    assert cc.encode(cc.REPLY, 1, {"result": "\u00e9"})[12:] == b'{"result":"\\u00e9"}'
    d = cc.Decoder()
    frame = cc.encode(cc.EVENTS, 0, {"events": []}) + cc.encode(cc.ERROR, 3, {"error": "x"})
    # byte by byte: nothing until a frame is whole
    got = []
    for b in frame:
        got += d.feed(bytes([b]))
    assert got == [cc.Frame(cc.EVENTS, 0, {"events": []}), cc.Frame(cc.ERROR, 3, {"error": "x"})]
    assert d.buffered == 0
    d.feed(frame[:5])
    assert d.buffered == 5
    # BYTES: a reply whose result is the payload itself (the state blob), never JSON-parsed.
    blob = cc.encode_bytes(9, b"MSB1\xff{")
    assert blob == b"\x00\x01\x00\x05\x00\x00\x00\x09\x00\x00\x00\x06MSB1\xff{"
    assert cc.Decoder().feed(blob) == [cc.Frame(cc.BYTES, 9, {"result": b"MSB1\xff{"})]


@pytest.mark.parametrize(
    "data, message",
    [
        (b"\x00\x02\x00\x01\x00\x00\x00\x01\x00\x00\x00\x02{}", "version 2"),
        (b"\x00\x01\x00\x09\x00\x00\x00\x01\x00\x00\x00\x02{}", "kind 9"),
        (b"\x00\x01\x00\x02\x00\x00\x00\x01\xff\xff\xff\xff", "exceeds"),
        (b"\x00\x01\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02{x", "not JSON"),
        (b"\x00\x01\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02[]", "not a JSON object"),
        (b'\x00\x01\x00\x02\x00\x00\x00\x01\x00\x00\x00\x03"\xff"', "not JSON"),
        (b"\x00\x01\x00\x02\x00\x00\x00\x01\x00\x00\x10\x00" + b"[" * 4096, "not JSON"),
    ],
)
def test_codec_refuses(data: bytes, message: str) -> None:
    d = cc.Decoder()
    with pytest.raises(cc.ProtocolError, match=message):
        d.feed(data)
    # out of step for good: even a valid frame is refused now
    with pytest.raises(cc.ProtocolError):
        d.feed(cc.encode(cc.REPLY, 1, {"result": None}))


def test_replies_checked_and_escaped() -> None:
    st = check.state(
        {
            "sockets": [{"id": 0, "error": "bad\x01name"}],
            "interfaces": [
                {"socket-id": 1, "id": 2, "remote-name": "x\ud800\x7f\ufffe", "new-leaf": 5}
            ],
        }
    )
    assert st["sockets"][0]["error"] == "bad\\x01name"
    assert st["interfaces"][0]["remote-name"] == "x\\ud800\x7f\\ufffe"
    assert st["interfaces"][0]["new-leaf"] == 5  # unknown keys pass through
    for bad in (
        [],
        {"sockets": [], "interfaces": "x"},
        {"sockets": [{"id": -1}], "interfaces": []},
        {"sockets": [{"id": True}], "interfaces": []},
        {"sockets": [], "interfaces": [{"socket-id": 1}]},
        {"sockets": [], "interfaces": [{"socket-id": 1, "id": 1, "queues": {}}]},
        {"sockets": [{"id": 1, "x": "y" * 5000}], "interfaces": []},
        {"sockets": [{"id": 1, "x": [[[[[[1]]]]]]}], "interfaces": []},
        {"sockets": [{"id": 1, "x": 1 << 70}], "interfaces": []},
        {"sockets": [{"id": 1, "x": 1.5}], "interfaces": []},
    ):
        with pytest.raises(check.BadReply):
            check.state(bad)
    with pytest.raises(check.BadReply):
        check.events([{"type": "link", "socket_id": 1, "id": 1, "up": "yes"}])
    with pytest.raises(check.BadReply):
        check.none("surprise")


# -- a hostile dataplane process --------------------------------------------------------------

# Each answers its first request with something wrong; the agent side must give
# up on it with a reason, kill it, and never hang or raise anything else.
HOSTILE = {
    "garbage": "s.sendall(b'\\x00\\x09' + b'x' * 64)",
    "huge": "s.sendall(struct.pack('!HHII', 1, 2, 1, 1 << 31))",
    "bad-state": "s.sendall(reply({'result': {'sockets': 1}}))",
    # state_blob answered with a truncated blob, or with JSON where bytes belong
    "bad-blob": "s.sendall(struct.pack('!HHII', 1, 5, 1, 8) + b'MSB1' + bytes(4))",
    "json-blob": "s.sendall(reply({'result': 'TVNCMQ=='}))",
    # big enough to be checked in a thread: valid header, then 300 KB that are no entries
    "big-bad-blob": "b = b'MSB1' + bytes(8) + bytes(300000); "
    "s.sendall(struct.pack('!HHII', 1, 5, 1, len(b)) + b)",
    "silent": "time.sleep(30)",
    "exits": "os._exit(3)",
    "segv": "os.kill(os.getpid(), signal.SIGSEGV)",
    "no-read": "time.sleep(30)",
}


def _hostile_argv(tmp_path, kind: str) -> list[str]:
    script = tmp_path / f"hostile_{kind}.py"
    script.write_text(
        textwrap.dedent(
            """
            import json, os, signal, socket, struct, sys, time
            fd = int(sys.argv[sys.argv.index("--fd") + 1])
            s = socket.socket(fileno=fd)
            def reply(body):
                p = json.dumps(body).encode()
                return struct.pack("!HHII", 1, 2, 1, len(p)) + p
            """
        )
        + ("" if kind == "no-read" else "s.recv(65536)\n")
        + HOSTILE[kind]
        + "\n"
    )
    return [sys.executable, str(script)]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_dataplane_process_is_given_up(tmp_path, kind: str) -> None:
    lost: list[str] = []

    async def run() -> tuple[float, RemoteDataplane]:
        dp = RemoteDataplane(
            lambda ev: None, lost.append, timeout=1.0, argv=_hostile_argv(tmp_path, kind)
        )
        dp.start()
        t0 = time.monotonic()
        with pytest.raises(DataplaneLost):
            if kind == "no-read":
                # a process that never reads: writes queue, then the call times out
                await dp.call("add_socket", 1, "x" * 100_000)
            elif kind == "bad-state":
                await dp.state()
            elif kind.endswith("-blob"):
                await dp.state_blob()
            else:
                await dp.ping()
        took = time.monotonic() - t0
        # its exit is reaped (no zombie) once the pidfd reports it
        deadline = time.monotonic() + 5
        while dp.proc.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return took, dp

    took, dp = asyncio.run(run())
    assert len(lost) == 1, lost
    assert dp.proc.poll() is not None
    assert took < 3
    expect = {
        "garbage": "protocol error",
        "huge": "exceeds",
        "bad-state": "bad reply to state",
        "bad-blob": "bad reply to state_blob: not a state blob",
        "json-blob": "bad reply to state_blob: state blob is not bytes",
        "big-bad-blob": "bad reply to state_blob: state blob: bytes after the last entry",
        "silent": "hung: no reply to ping within 1 s",
        "exits": "status 3",
        "segv": "SIGSEGV",
        "no-read": "hung",
    }[kind]
    assert expect in lost[0]


# -- end to end --------------------------------------------------------------------------------




def cfg(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def dp_state(m) -> dict[str, str]:
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><dataplane-state/></memif>')).data
    return {
        etree.QName(c).localname: c.text or ""
        for c in d.xpath("//m:dataplane-state/*", namespaces=P)
    }


def link(m, sid: int, iid: int, leaf: str = "link-status") -> str:
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><interface/></memif>')).data
    v = d.xpath(
        f"//m:interface[m:socket-id='{sid}'][m:id='{iid}']/m:state/m:{leaf}/text()",
        namespaces=P,
    )
    return v[0] if v else ""


def notifications(m, until, timeout: float = 10.0) -> list[str]:
    """Link-state-change notifications until one satisfies `until`."""
    seen: list[str] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        n = m.take_notification(block=True, timeout=0.2)
        if n is None:
            continue
        seen.append(n.notification_xml)
        if until(n.notification_xml):
            return seen
    raise AssertionError(f"no matching notification in {timeout}s: {seen}")


@pytest.fixture
def linked(start_agent, tmp_path):
    """An agent (restart delayed 1.5 s, so a commit can meet it down) serving
    memif1/1; our own Dataplane connects as the client and passes traffic."""
    ag = start_agent(tmp_path / "a", "--dataplane-restart-delay", "1.5", "--socket-mode", "660")
    sock = str(tmp_path / "s1.sock")
    m = ag.connect()
    m.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    m.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>1</id><filename>{sock}</filename></socket>"
            "<interface><socket-id>1</socket-id><id>1</id><enabled>true</enabled></interface>"
        ),
    )
    peer = Dataplane("test-peer")
    peer.add_socket(1, sock)
    peer.add_interface(1, 1, role="client", enabled=True)
    wait(lambda: link(m, 1, 1) == "up")
    notifications(m, lambda x: "<link-status>up</link-status>" in x)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o660
    yield ag, m, peer
    peer.close()


@pytest.mark.parametrize(
    "sig, reason",
    [
        (signal.SIGSEGV, "crashed: killed by SIGSEGV"),
        (signal.SIGKILL, "crashed: killed by SIGKILL"),
        (signal.SIGSTOP, "hung: no reply to ping within 1 s"),
    ],
)
def test_dataplane_loss_costs_the_links_only(linked, sig, reason) -> None:
    ag, m, peer = linked
    before = dp_state(m)
    assert before["status"] == "running" and before["restarts"] == "0"
    pid = int(before["pid"])
    assert os.getppid() != pid and pid != ag.proc.pid
    mac = link(m, 1, 1, "mac-address")
    assert mac.startswith("02:fe:")
    m2 = ag.connect()  # a second session, to show both stay up
    os.kill(pid, sig)
    t0 = time.monotonic()
    # NETCONF keeps answering within 1 s, even while the process is stopped
    while time.monotonic() - t0 < 1.5:
        t = time.monotonic()
        st = dp_state(m2)
        assert time.monotonic() - t < 1.0, "a <get> took a second or more"
        if st["status"] == "unavailable" and reason in st.get("reason", ""):
            break
    assert st == {"status": "unavailable", "reason": reason, "restarts": "0"}, st
    # the link went down, saying why
    seen = notifications(m, lambda x: "<link-status>down</link-status>" in x)
    assert f"<reason>dataplane lost: {reason}</reason>" in seen[-1]
    assert "<name>memif1/1</name>" in seen[-1]
    # a commit while it is down fails cleanly and changes nothing
    running = m.get_config("running").data_xml
    with pytest.raises(RPCError) as e:
        m.edit_config(
            target="running",
            config=cfg("<interface><socket-id>1</socket-id><id>2</id></interface>"),
        )
    assert e.value.tag == "operation-failed"
    assert e.value.message.startswith("dataplane unavailable: ")
    assert m.get_config("running").data_xml == running
    # the hung one was SIGKILLed, the crashed ones reaped: the old pid is gone
    wait(lambda: not os.path.exists(f"/proc/{pid}"), 5)
    # restarted, running re-applied, the peer reconnects
    st = wait(lambda: (s := dp_state(m2))["status"] == "running" and s, 10)
    assert st["restarts"] == "1" and int(st["pid"]) != pid
    seen = notifications(m, lambda x: "<link-status>up</link-status>" in x)
    assert "<reason>dataplane restarted</reason>" in seen[-1]
    assert link(m2, 1, 1) == "up"
    # the generated MAC address is the stored one, as after any recreate, and
    # the socket file is made again with the agent's --socket-mode
    assert link(m2, 1, 1, "mac-address") == mac
    assert stat.S_IMODE(os.stat(peer_sock(ag)).st_mode) == 0o660
    # and the link carries traffic again (packets stay inside the dataplane process)
    frame = b"\xff" * 6 + b"\x02\xfe\x00\x00\x00\x01" + b"\x88\xb5" + b"x" * 50
    sent = wait(lambda: peer.tx_burst(1, 1, 0, frame, [len(frame)]), 5)
    assert sent == 1
    wait(lambda: int(_counter(m2, "rx-packets")) >= 1, 5)
    # and commits work again
    m.edit_config(
        target="running", config=cfg("<interface><socket-id>1</socket-id><id>2</id></interface>")
    )


def peer_sock(ag) -> str:
    return str(ag.workdir.parent / "s1.sock")


def _counter(m, name: str) -> str:
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><interface/></memif>')).data
    v = d.xpath(
        f"//m:interface[m:socket-id='1'][m:id='1']/m:state/m:counters/m:{name}/text()",
        namespaces=P,
    )
    return v[0] if v else "0"


def test_dataplane_process_dies_with_the_agent(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a")
    m = ag.connect()
    pid = int(dp_state(m)["pid"])
    # a server interface on socket 0: its file is listened on
    m.edit_config(
        target="running",
        config=cfg(
            "<interface><socket-id>0</socket-id><id>1</id><enabled>true</enabled></interface>"
        ),
    )
    assert os.path.exists(ag.socket0)
    ag.kill()
    wait(lambda: not os.path.exists(f"/proc/{pid}") or _zombie(pid), 5)
    # a clean stop removes the socket files (the process closes its Dataplane)
    ag.start()
    m = ag.connect()
    pid = int(dp_state(m)["pid"])
    ag.stop()
    assert not os.path.exists(f"/proc/{pid}") or _zombie(pid)
    assert not os.path.exists(ag.socket0)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_commit_in_flight_when_the_dataplane_hangs(linked) -> None:
    ag, m, peer = linked
    pid = int(dp_state(m)["pid"])
    running = m.get_config("running").data_xml
    os.kill(pid, signal.SIGSTOP)
    # sent at once: the heartbeat needs most of a second to call it hung, so
    # this commit is waiting on the stopped process when it is given up
    t0 = time.monotonic()
    with pytest.raises(RPCError) as e:
        m.edit_config(
            target="running",
            config=cfg(
                "<socket><id>2</id><filename>/tmp/never.sock</filename></socket>"
                "<interface><socket-id>2</socket-id><id>1</id></interface>"
            ),
        )
    assert time.monotonic() - t0 < 2.5
    assert e.value.tag == "operation-failed"
    assert "dataplane lost: hung: no reply to" in e.value.message
    assert m.get_config("running").data_xml == running
    # the restarted process runs running as it was: memif1/1 comes back, socket 2 never came
    st = wait(lambda: (s := dp_state(m))["status"] == "running" and s, 10)
    assert st["restarts"] == "1"
    wait(lambda: link(m, 1, 1) == "up", 10)
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><socket/></memif>')).data
    assert sorted(d.xpath("//m:socket/m:id/text()", namespaces=P)) == ["0", "1"]


def test_big_state_blob_is_formatted_off_the_loop(tmp_path) -> None:
    """A state blob over BIG_BLOB (2,600 interfaces) is checked and formatted in a
    thread: the same text the small path makes."""
    from dataplane import remote
    from dataplane.state_blob import from_wire

    async def run() -> None:
        dp = RemoteDataplane(lambda ev: None, lambda why: None)
        dp.start()
        try:
            await dp.add_socket(1, str(tmp_path / "big.sock"))
            calls = [["add_interface", [1, i], {"role": "server"}] for i in range(2600)]
            for k in range(0, len(calls), 256):
                await dp.call("batch", calls[k : k + 256])
            st = await dp.state_blob()
            assert len(st.blob) >= remote.BIG_BLOB
            assert st.fragments == from_wire(st.blob).fragments
            assert len(st.fragments) == 2601
        finally:
            dp.kill("done")

    asyncio.run(run())
