"""A hostile memif client against our server: malformed and out-of-order
control messages, missing fds, lying sizes, rings outside their region, bad
cookies, corrupt descriptors. Each gets a DISCONNECT with a reason (or the
frame is dropped and counted); the process survives and a good client still
connects afterwards."""

from __future__ import annotations

import fcntl
import os
import struct
import time

import pytest
from agent_harness import wait_until
from hostile_peer import ACK, ADD_REGION, CONNECTED, HostileClient, msg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dataplane import Dataplane


@pytest.fixture
def server(tmp_path):
    dp = Dataplane("victim")
    path = str(tmp_path / "victim.sock")
    dp.add_socket(1, path)
    dp.add_interface(1, 1, role="server", enabled=True, rx_mode="python")
    yield dp, path
    dp.close()


def still_serves(dp: Dataplane, path: str) -> None:
    good = Dataplane("good")
    try:
        good.add_socket(1, path)
        good.add_interface(1, 1, role="client", enabled=True)
        end = time.time() + 5
        while dp.interface_state(1, 1)["link-status"] != "up":
            assert time.time() < end, "a good client could not connect after the attack"
            time.sleep(0.01)
    finally:
        good.close()
    end = time.time() + 5
    while dp.interface_state(1, 1)["link-status"] == "up":
        assert time.time() < end
        time.sleep(0.01)


def test_wrong_sizes_and_types(server) -> None:
    dp, path = server
    for raw, reason in (
        (msg(3)[:64], "malformed message"),
        (msg(3) + b"x", "malformed message"),
        (msg(77), "malformed message"),
        (msg(ADD_REGION, "HQ", 0, 4096), "expected INIT"),
        (msg(3, "HIB24s32s", 0x0100, 1, 0, b"", b"x"), "incompatible version"),
        (msg(3, "HIB24s32s", 0x0200, 1, 2, b"", b"x"), "unsupported interface mode"),
    ):
        c = HostileClient(path)
        c.hello()
        c.send(raw)
        assert c.expect_disconnect() == reason
        c.close()
    still_serves(dp, path)


def test_region_and_ring_lies(server) -> None:
    dp, path = server
    cases = [
        ("no region fd", lambda c, fd, size: c.add_region(None, size), "missing region fd"),
        (
            "size beyond file",
            lambda c, fd, size: c.add_region(fd, size * 4),
            "region size larger than its file",
        ),
        (
            "region beyond what 32-bit offsets address",
            lambda c, fd, size: c.add_region(fd, 2**32 + 1),
            "region too large",
        ),
        (
            "region index 1 first",
            lambda c, fd, size: c.add_region(fd, size, index=1),
            "unexpected region index",
        ),
    ]
    for _name, act, reason in cases:
        c = HostileClient(path)
        c.hello()
        assert c.init(1) == ACK
        fd, size = c.make_region()
        act(c, fd, size)
        assert c.expect_disconnect() == reason
        c.close()
    ring_cases = [
        (dict(s2m=True, offset=10**6), "ring outside its region"),
        (dict(s2m=True, offset=0, fd=None), "missing interrupt fd"),
        (dict(s2m=True, offset=0, index=3), "unexpected ring index"),
        (dict(s2m=True, offset=0, region=4), "ring in unknown region"),
        (dict(s2m=True, offset=0, log2=15), "invalid ring size"),
        (dict(s2m=True, offset=0, private=8), "private header not supported"),
    ]
    for kw, reason in ring_cases:
        c = HostileClient(path)
        c.hello()
        assert c.init(1) == ACK
        fd, size = c.make_region()
        assert c.add_region(fd, size) == ACK
        c.add_ring(**kw)
        assert c.expect_disconnect() == reason
        c.close()
    still_serves(dp, path)


def test_bad_cookie_and_missing_rings(server) -> None:
    dp, path = server
    c = HostileClient(path)
    c.hello()
    assert c.init(1) == ACK
    fd, size = c.make_region()
    assert c.add_region(fd, size) == ACK
    assert c.add_ring(True, 0) == ACK
    c.connect_msg()
    assert c.expect_disconnect() == "no rings"
    c.close()
    c = HostileClient(path)
    c.hello()
    assert c.init(1) == ACK
    fd, size = c.make_region()
    assert c.add_region(fd, size) == ACK
    assert c.add_ring(True, 0) == ACK
    assert c.add_ring(False, c.ring_bytes) == ACK
    struct.pack_into("<I", c.region, 0, 0xDEADBEEF)
    c.connect_msg()
    assert c.expect_disconnect() == "wrong cookie"
    c.close()
    still_serves(dp, path)


def test_corrupt_descriptors_are_dropped_and_counted(server) -> None:
    dp, path = server
    c = HostileClient(path)
    c.full_handshake(1)
    end = time.time() + 5
    while dp.interface_state(1, 1)["link-status"] != "up":
        assert time.time() < end
        time.sleep(0.01)
    size = len(c.region)
    good_off = c.buf_off
    c.region[good_off : good_off + 60] = b"G" * 60
    c.put_s2m(
        [
            (0, 0, 64, size - 10),  # runs past the end of the region
            (0, 7, 64, 0),  # region that does not exist
            (0, 0, 0, good_off),  # empty
            (0, 0, 0xFFFFFFFF, good_off),  # absurd length
            (1, 0, 30, good_off),  # a chain whose next part is out of bounds...
            (0, 0, 30, 2**32 - 16),  # ...so the whole frame is dropped
            (0, 0, 60, good_off),  # a good frame still gets through
        ]
    )
    time.sleep(0.1)
    data, lens = dp.rx_burst(1, 1, 0, 256)
    assert lens == [60] and data == b"G" * 60
    assert dp.interface_state(1, 1)["counters"]["bad-descriptors"] == 5
    # head far beyond what was published: the count is clamped to the ring size,
    # counted, and logged once for the link
    dp.events()
    struct.pack_into("<H", c.region, 6, 0xFFFF)
    time.sleep(0.05)
    dp.rx_burst(1, 1, 0, 256)
    dp.rx_burst(1, 1, 0, 256)
    assert dp.interface_state(1, 1)["counters"]["ring-overruns"] >= 2
    logs = [e for e in dp.events() if e["type"] == "log"]
    assert len(logs) == 1 and "ring overrun" in logs[0]["message"]
    assert logs[0]["name"] == "memif1/1"
    c.close()
    still_serves(dp, path)


def test_an_unfinished_chain_through_an_xconnect_leaves_the_loop_asleep(tmp_path) -> None:
    """The loop polls again at once after a pass that moved frames through an xconnect.
    A chain whose last part never comes moves nothing, so it must not keep the loop
    busy: a hostile peer could otherwise make the dataplane spin on one descriptor."""
    mid, far = Dataplane("mid"), Dataplane("far")
    try:
        path, far_path = str(tmp_path / "h.sock"), str(tmp_path / "far.sock")
        mid.add_socket(1, path)
        mid.add_socket(2, far_path)
        mid.add_interface(1, 1, role="server", enabled=True)
        mid.add_interface(2, 0, role="server", enabled=True)
        mid.set_xconnect((1, 1), (2, 0))
        far.add_socket(2, far_path)
        far.add_interface(2, 0, role="client", enabled=True, rx_mode="python")
        c = HostileClient(path)
        c.full_handshake(1)
        wait_until(
            lambda: all(
                d.interface_state(s, i)["link-status"] == "up"
                for d, s, i in ((mid, 1, 1), (mid, 2, 0), (far, 2, 0))
            )
        )
        c.region[c.buf_off : c.buf_off + 60] = b"G" * 60
        # one good frame, then the first part of a chain (NEXT set) and nothing after it
        c.put_s2m([(0, 0, 60, c.buf_off), (1, 0, 30, c.buf_off)])
        os.eventfd_write(c.s2m_efd, 1)
        got = wait_until(lambda: far.rx_burst(2, 0, 0, 256)[1], what="the good frame")
        assert got == [60]
        # A window of CPU time, not a wait for a condition: a spinning loop thread
        # would take about all of it.
        cpu, wall = time.process_time(), time.monotonic()
        time.sleep(0.5)
        cpu, wall = time.process_time() - cpu, time.monotonic() - wall
        assert cpu < 0.5 * wall, f"the process used {cpu:.2f} s of CPU in {wall:.2f} s"
        assert mid.interface_state(1, 1)["counters"]["rx-packets"] == 1
        c.close()
    finally:
        far.close()
        mid.close()


def test_unexpected_and_extra_fds(server) -> None:
    dp, path = server
    c = HostileClient(path)
    c.hello()
    fd = os.eventfd(0)
    c.send(msg(3, "HIB24s32s", 0x0200, 1, 0, b"", b"x"), fd)  # INIT with an fd: ignored
    assert c.recv()[0] == ACK
    c.send(msg(CONNECTED, "32s", b"x"))
    assert c.expect_disconnect() == "unexpected message"
    os.close(fd)
    c.close()
    still_serves(dp, path)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(st.binary(min_size=0, max_size=160), min_size=1, max_size=6), st.booleans())
def test_random_control_messages(server, messages, with_init) -> None:
    dp, path = server
    c = HostileClient(path)
    try:
        c.hello()
        if with_init:
            c.init(1)
        for raw in messages:
            if not raw:
                continue
            try:
                c.send(raw if len(raw) != 128 else raw)
            except OSError:
                break
            t, _ = c.recv()
            if t == 0:
                break
    finally:
        c.close()
    time.sleep(0.01)
    assert dp.interface_state(1, 1)["connection-state"] in ("listening", "handshake")


def test_interrupt_fds_made_blocking(server) -> None:
    """The peer shares the open file descriptions of the interrupt eventfds and
    may clear O_NONBLOCK on them. Kicks we receive are taken edge-triggered and
    never read, so that changes nothing there; a kick we would write to such a
    file is not sent (it could block the loop) and the link is dropped."""
    dp, path = server
    c = HostileClient(path)
    c.full_handshake(1)
    wait_until(lambda: dp.interface_state(1, 1)["link-status"] == "up", what="link up")
    fcntl.fcntl(c.s2m_efd, fcntl.F_SETFL, 0)  # the eventfd the peer kicks us on
    frame = b"K" * 60
    for k in range(3):
        c.region[c.buf_off + k * c.bsize : c.buf_off + k * c.bsize + 60] = frame
        c.put_s2m([(0, 0, 60, c.buf_off + k * c.bsize)])
        os.eventfd_write(c.s2m_efd, 1)
        wait_until(
            lambda k=k: dp.interface_state(1, 1)["counters"]["interrupts"] > k,
            what=f"interrupt {k + 1} taken",
        )
        data, lens = dp.rx_burst(1, 1, 0, 256)
        assert lens == [60] and data == frame
    st = dp.interface_state(1, 1)
    assert st["link-status"] == "up" and st["local-disconnect-reason"] == ""
    # Our transmit: the peer posts its M2S buffers, leaves interrupts on and
    # makes the eventfd we would kick blocking.
    struct.pack_into("<H", c.region, c.ring_bytes + 6, c.n)
    fcntl.fcntl(c.m2s_efd, fcntl.F_SETFL, 0)
    t = time.monotonic()
    dp.tx_burst(1, 1, 0, frame, [60])
    assert time.monotonic() - t < 0.5
    assert c.expect_disconnect() == "interrupt fd made blocking"
    assert dp.interface_state(1, 1)["local-disconnect-reason"] == "interrupt fd made blocking"
    c.close()
    still_serves(dp, path)
