"""The dataplane's bounds against hostile peers, on the Dataplane API: the
handshake bound and the pending cap (constructor arguments), accept backing
off when the process is out of fds, and the buffer size a zero-copy client's
descriptors offer."""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import textwrap
import time

import pytest
from agent_harness import wait_until as wait
from hostile_peer import ACK, CONNECTED, DISCONNECT, HELLO, RING_HDR, HostileClient, HostileServer

from dataplane import Dataplane


def _sock_state(dp: Dataplane, sid: int = 1) -> dict:
    return next(s for s in dp.state()["sockets"] if s["id"] == sid)


@pytest.fixture
def short(tmp_path):
    dp = Dataplane("victim", handshake_timeout=0.5, max_pending=2)
    path = str(tmp_path / "v.sock")
    dp.add_socket(1, path)
    dp.add_interface(1, 1, role="server", enabled=True, rx_mode="python")
    yield dp, path
    dp.close()


def test_constructor_bounds_are_checked() -> None:
    for kw in ({"handshake_timeout": 0}, {"handshake_timeout": -1.0}, {"max_pending": 0}):
        with pytest.raises(ValueError):
            Dataplane("x", **kw)


def test_handshake_bound_with_and_without_init(short) -> None:
    dp, path = short
    c = HostileClient(path)
    t0 = time.monotonic()
    c.hello()  # and never an INIT
    assert c.expect_disconnect() == "handshake timeout"
    assert 0.3 < time.monotonic() - t0 < 2.0
    c.close()
    assert _sock_state(dp)["last-refusal"] == "a peer: handshake timeout (no INIT)"
    c = HostileClient(path)
    t0 = time.monotonic()
    c.hello()
    assert c.init(1) == ACK
    assert c.expect_disconnect() == "handshake timeout"
    assert 0.3 < time.monotonic() - t0 < 2.0
    c.close()
    st = dp.interface_state(1, 1)
    assert st["local-disconnect-reason"] == "handshake timeout"
    assert st["connection-state"] == "listening"
    c = HostileClient(path)  # the id is free again
    c.full_handshake(1)
    wait(lambda: dp.interface_state(1, 1)["link-status"] == "up", what="link up")
    c.close()


def test_pending_connections_are_capped(short) -> None:
    dp, path = short
    held = [HostileClient(path) for _ in range(2)]
    for c in held:
        c.hello()
    extra = HostileClient(path)
    t, data = extra.recv()
    assert t == DISCONNECT and extra.reason(data) == "too many pending connections"
    st = _sock_state(dp)
    assert st["pending-connections"] == 2 and st["dropped-connections"] == 1
    extra.close()
    for c in held:
        c.close()
    wait(lambda: _sock_state(dp)["pending-connections"] == 0, what="pending drained")


def test_accept_backs_off_when_out_of_fds(tmp_path) -> None:
    """A dataplane with a few fds to spare and no pending cap: connections
    beyond its fds wait in the backlog, the loop does not spin on EMFILE, and
    once fds are free again a good peer connects."""
    path = str(tmp_path / "emfile.sock")
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import json, os, resource, sys, time
                from dataplane import Dataplane
                dp = Dataplane("emfile", handshake_timeout=60, max_pending=65536)
                dp.add_socket(1, {path!r})
                dp.add_interface(1, 1, role="server", enabled=True)
                n = len(os.listdir("/proc/self/fd"))
                resource.setrlimit(resource.RLIMIT_NOFILE, (n + 16, resource.getrlimit(
                    resource.RLIMIT_NOFILE)[1]))
                print("ready", flush=True)
                for line in sys.stdin:
                    if line.strip() == "measure":
                        r0 = resource.getrusage(resource.RUSAGE_SELF)
                        time.sleep(1.5)
                        r1 = resource.getrusage(resource.RUSAGE_SELF)
                        cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
                        s = dp.state()["sockets"][0]
                        print(json.dumps({{"cpu": cpu, "pending": s["pending-connections"]}}),
                              flush=True)
                    elif line.strip() == "state":
                        print(json.dumps(dp.interface_state(1, 1)), flush=True)
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    held: list[socket.socket] = []
    try:
        assert child.stdout.readline().strip() == "ready"
        for _ in range(60):  # more than its 16 spare fds; the rest wait in the backlog
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_NONBLOCK)
            try:
                s.connect(path)
            except BlockingIOError:
                s.close()
                break
            held.append(s)
        child.stdin.write("measure\n")
        child.stdin.flush()
        got = json.loads(child.stdout.readline())
        assert got["pending"] < len(held), "every connection got an fd: nothing was tested"
        assert got["cpu"] < 0.3, f"{got['cpu']:.2f}s of CPU in 1.5 s: accept spins on EMFILE"
        for s in held:
            s.close()
        held.clear()
        end = time.monotonic() + 10
        while True:  # closed by their peer, the pending ones give their fds back
            c = HostileClient(path)
            try:
                if c.recv()[0] == HELLO:
                    c.full_handshake(1, hello=False)
                    break
            finally:
                c.close()
            assert time.monotonic() < end, "no good peer served after the fds came back"
            time.sleep(0.1)
    finally:
        for s in held:
            s.close()
        child.stdin.close()
        child.wait(timeout=10)


def test_zero_copy_client_buffer_size(tmp_path) -> None:
    """A zero-copy client posts its M2S buffers only after CONNECTED: <get>
    shows no buffer size until then, and then the size they offer."""
    dp = Dataplane("zc")
    path = str(tmp_path / "zc.sock")
    dp.add_socket(1, path)
    dp.add_interface(1, 1, role="server", enabled=True, rx_mode="python")
    c = HostileClient(path)
    try:
        c.hello()
        assert c.init(1) == ACK
        fd, size = c.make_region(log2=4, bsize=2048)
        m2s = c.ring_bytes
        for j in range(c.n):  # nothing posted yet
            struct.pack_into("<HHII", c.region, m2s + RING_HDR + 16 * j, 0, 0, 0, 0)
        assert c.add_region(fd, size) == ACK
        assert c.add_ring(True, 0) == ACK
        assert c.add_ring(False, m2s) == ACK
        assert c.connect_msg() == CONNECTED
        wait(lambda: dp.interface_state(1, 1)["link-status"] == "up", what="link up")
        assert "buffer-size" not in dp.interface_state(1, 1)
        for j in range(c.n):
            off = c.buf_off + (c.n + j) * 2048
            struct.pack_into("<HHII", c.region, m2s + RING_HDR + 16 * j, 0, 0, 2048, off)
        struct.pack_into("<H", c.region, m2s + 6, c.n)  # M2S head: all posted
        assert dp.interface_state(1, 1)["buffer-size"] == 2048
        assert dp.tx_burst(1, 1, 0, b"x" * 100, [100]) == 1
        assert dp.interface_state(1, 1)["buffer-size"] == 2048
    finally:
        c.close()
        dp.close()


def test_client_bound_starts_at_the_servers_hello(tmp_path) -> None:
    """A server may accept long before it speaks (DPDK while it initializes):
    our client waits for its HELLO, then holds it to the handshake bound."""
    path = str(tmp_path / "slow.sock")
    srv = HostileServer(path)
    dp = Dataplane("client", handshake_timeout=0.5)
    try:
        dp.add_socket(1, path)
        dp.add_interface(1, 1, role="client", enabled=True)
        srv.accept(hello=False)
        time.sleep(1.5)  # three bounds of silence from the server: still waiting
        st = dp.interface_state(1, 1)
        assert st["connection-state"] == "handshake" and st["local-disconnect-reason"] == ""
        srv.hello()
        t0 = time.monotonic()
        assert srv.recv()[0] != 0  # our INIT, never answered
        wait(
            lambda: dp.interface_state(1, 1)["local-disconnect-reason"] == "handshake timeout",
            what="handshake timeout",
        )
        assert time.monotonic() - t0 < 2.0
    finally:
        dp.close()
        srv.close()
