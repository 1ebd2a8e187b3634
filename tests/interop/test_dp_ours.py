"""Our memif server against our memif client (two Dataplane instances):
handshake, bursts of 64/1500/9000 B both ways, reasons, reconnect, xconnect."""

from __future__ import annotations

import contextlib
import time

import pytest
from agent_harness import wait_until as wait

from dataplane import Dataplane, MemifError


def up(dp: Dataplane, sid: int, iid: int) -> bool:
    return dp.interface_state(sid, iid)["link-status"] == "up"


@pytest.fixture
def pair(tmp_path):
    srv, cli = Dataplane("srv-app"), Dataplane("cli-app")
    path = str(tmp_path / "sub" / "m.sock")  # parent directory is created
    srv.add_socket(1, path)
    cli.add_socket(1, path)
    yield srv, cli, path
    cli.close()
    srv.close()


def frames(sizes):
    fs = [bytes([i % 251 + 1]) * n for i, n in enumerate(sizes)]
    return b"".join(fs), [len(f) for f in fs]


def recv_all(dp, sid, iid, n, timeout=5.0):
    data, lens = b"", []
    end = time.time() + timeout
    while len(lens) < n and time.time() < end:
        d, got = dp.rx_burst(sid, iid, 0, 256)
        data += d
        lens += got
    return data, lens


def test_handshake_and_bursts_both_ways(pair) -> None:
    srv, cli, _ = pair
    srv.add_interface(1, 5, role="server", enabled=True, secret="k3y", rx_mode="python")
    cli.add_interface(
        1,
        5,
        role="client",
        enabled=True,
        secret="k3y",
        rx_mode="python",
        ring_size_log2=16,
        buffer_size=2048,
    )
    wait(lambda: up(srv, 1, 5) and up(cli, 1, 5))
    s = srv.interface_state(1, 5)
    assert s["remote-name"] == "cli-app" and s["remote-interface-name"] == "memif1/5"
    assert s["ring-size"] == 1 << 14  # negotiated down to the server's maximum
    assert s["buffer-size"] == 2048 and s["regions"] == 1
    assert cli.interface_state(1, 5)["remote-name"] == "srv-app"
    ev = srv.events()
    assert ev and ev[-1]["up"] is True and ev[-1]["name"] == "memif1/5"
    for sender, receiver in ((cli, srv), (srv, cli)):
        data, lens = frames([64, 1500, 9000, 60, 4097] * 20)
        assert sender.tx_burst(1, 5, 0, data, lens) == len(lens)
        got, glens = recv_all(receiver, 1, 5, len(lens))
        assert glens == lens and got == data
    c = srv.interface_state(1, 5)["counters"]
    assert c["rx-packets"] == 100 and c["tx-packets"] == 100 and c["bad-descriptors"] == 0


def test_ring_full_is_counted_not_corrupted(pair) -> None:
    srv, cli, _ = pair
    srv.add_interface(1, 1, role="server", enabled=True, rx_mode="python", ring_size_log2=8)
    cli.add_interface(1, 1, role="client", enabled=True, rx_mode="python", ring_size_log2=8)
    wait(lambda: up(srv, 1, 1) and up(cli, 1, 1))
    data, lens = frames([64] * 256)
    assert cli.tx_burst(1, 1, 0, data, lens) == 256
    assert cli.tx_burst(1, 1, 0, data[:64], [64]) == 0
    assert cli.interface_state(1, 1)["counters"]["no-free-slots"] == 1
    got, glens = recv_all(srv, 1, 1, 256)
    assert got == data


@pytest.mark.parametrize(
    ("srv_kw", "cli_kw", "reason"),
    [
        ({"secret": "right"}, {"secret": "wrong"}, "incorrect secret"),
        ({"secret": "right"}, {}, "secret required"),
        ({"mode": "ip"}, {"mode": "ethernet"}, "mode mismatch"),
        ({}, {"if_id": 99}, "unmatched interface id"),
    ],
)
def test_refusals_carry_reasons(pair, srv_kw, cli_kw, reason) -> None:
    srv, cli, _ = pair
    srv.add_interface(1, 1, role="server", enabled=True, **srv_kw)
    iid = cli_kw.pop("if_id", 1)
    cli.add_interface(1, iid, role="client", enabled=True, **cli_kw)
    wait(lambda: cli.interface_state(1, iid)["remote-disconnect-reason"] == reason)
    assert not up(srv, 1, 1)
    # The server's own state says why its interface did not come up (when the
    # INIT named it), not only the peer.
    local = srv.interface_state(1, 1)["local-disconnect-reason"]
    assert local == ("" if iid == 99 else f"refused cli-app: {reason}")
    sock = next(s for s in srv.state()["sockets"] if s["id"] == 1)
    assert sock["last-refusal"] == f"cli-app for interface {iid}: {reason}"


def test_peer_interrupts_resume_after_the_traffic_sink_stops(pair) -> None:
    # The sink polls and masks the peer's kicks meanwhile; it must unmask them.
    srv, cli, _ = pair
    srv.add_interface(1, 4, role="server", enabled=True)
    cli.add_interface(1, 4, role="client", enabled=True)
    wait(lambda: up(srv, 1, 4) and up(cli, 1, 4))

    def kicked() -> bool:
        before = srv.interface_state(1, 4)["counters"]["interrupts"]
        data, lens = frames([64])
        assert cli.tx_burst(1, 4, 0, data, lens) == 1
        time.sleep(0.05)
        return srv.interface_state(1, 4)["counters"]["interrupts"] > before

    assert kicked()
    srv.start_traffic(1, 4, kind="rx")
    time.sleep(0.1)
    assert not kicked()  # masked while the sink polls
    srv.stop_traffic(1, 4)
    assert kicked()


def test_admin_down_delete_and_reconnect(pair) -> None:
    srv, cli, _ = pair
    srv.add_interface(1, 2, role="server", enabled=True)
    cli.add_interface(1, 2, role="client", enabled=True)
    wait(lambda: up(srv, 1, 2))
    srv.set_enabled(1, 2, False)
    wait(lambda: not up(cli, 1, 2))
    assert cli.interface_state(1, 2)["remote-disconnect-reason"] == "admin down"
    assert [e["reason"] for e in srv.events() if not e["up"]] == ["admin down"]
    srv.set_enabled(1, 2, True)
    wait(lambda: up(cli, 1, 2), timeout=5)  # the client retries every second
    srv.remove_interface(1, 2)
    wait(lambda: cli.interface_state(1, 2)["remote-disconnect-reason"] == "interface deleted")
    srv.add_interface(1, 2, role="server", enabled=True)
    wait(lambda: up(cli, 1, 2), timeout=5)


def test_socket_errors(pair, tmp_path) -> None:
    srv, _, path = pair
    srv.add_interface(1, 1, role="server")
    other = Dataplane("x")
    try:
        other.add_socket(1, path)
        with pytest.raises(MemifError, match="address in use"):
            other.add_interface(1, 1, role="server")
        notsock = tmp_path / "file"
        notsock.write_text("x")
        other.add_socket(2, str(notsock))
        with pytest.raises(MemifError, match="is not a socket"):
            other.add_interface(2, 1, role="server")
        with pytest.raises(MemifError, match="same|already has"):
            srv.add_interface(1, 2, role="client")
        with pytest.raises(MemifError, match="in use"):
            srv.remove_socket(1)
    finally:
        other.close()


def test_stale_socket_file_is_replaced(tmp_path) -> None:
    import socket as s

    path = str(tmp_path / "stale.sock")
    sk = s.socket(s.AF_UNIX, s.SOCK_SEQPACKET)
    sk.bind(path)
    sk.close()  # file left behind, nobody listens
    dp = Dataplane()
    try:
        dp.add_socket(1, path)
        dp.add_interface(1, 1, role="server")
        assert dp.state()["sockets"][0]["listening"] is True
    finally:
        dp.close()


@contextlib.contextmanager
def xconnected(tmp_path, **itf):
    """left -> mid (memif1/0 xconnected to memif2/0) -> right, linked; yields the three."""
    mid, left, right = Dataplane("mid"), Dataplane("left"), Dataplane("right")
    try:
        for sid, name in ((1, "l.sock"), (2, "r.sock")):
            mid.add_socket(sid, str(tmp_path / name))
        left.add_socket(1, str(tmp_path / "l.sock"))
        right.add_socket(2, str(tmp_path / "r.sock"))
        mid.add_interface(1, 0, role="server", enabled=True, **itf)
        mid.add_interface(2, 0, role="server", enabled=True, **itf)
        mid.set_xconnect((1, 0), (2, 0))
        left.add_interface(1, 0, role="client", enabled=True, rx_mode="python", **itf)
        right.add_interface(2, 0, role="client", enabled=True, rx_mode="python", **itf)
        wait(lambda: up(left, 1, 0) and up(right, 2, 0))
        yield mid, left, right
    finally:
        for dp in (left, right, mid):
            dp.close()


def test_xconnect_patches_two_interfaces(tmp_path) -> None:
    with xconnected(tmp_path) as (mid, left, right):
        data, lens = frames([64, 1500, 9000] * 10)
        assert left.tx_burst(1, 0, 0, data, lens) == 30
        got, glens = recv_all(right, 2, 0, 30)
        assert got == data
        assert right.tx_burst(2, 0, 0, data, lens) == 30
        got, glens = recv_all(left, 1, 0, 30)
        assert got == data
        mid.set_xconnect((1, 0), None)
        assert left.tx_burst(1, 0, 0, data[:64], [64]) == 1
        time.sleep(0.2)
        assert right.rx_burst(2, 0)[1] == []


def test_xconnect_moves_a_burst_longer_than_one_pass_at_once(tmp_path) -> None:
    """4,000 frames published with one interrupt: the xconnect moves 256 per pass, and
    must keep polling while it moves frames. It used to wait for the next 100 ms timer
    tick after each pass (1.5 s for this burst), so a pair of agents held the tail of
    every burst back: a stream that stops left frames in the rings for a while."""
    with xconnected(tmp_path, ring_size_log2=12) as (_mid, left, right):
        data, lens = frames([60] * 4000)
        assert left.tx_burst(1, 0, 0, data, lens) == 4000
        start = time.monotonic()
        got, glens = recv_all(right, 2, 0, 4000, timeout=5.0)
        took = time.monotonic() - start
        assert got == data
        # 15 timer ticks would be 1.5 s; polling on, the burst takes milliseconds.
        assert took < 0.75, f"the burst took {took:.3f} s through the xconnect"


def test_queues_ids_and_one_peer_per_id(tmp_path) -> None:
    """Several interfaces share one socket file (demultiplexed by id); queue
    counts come from the client; an id takes one peer at a time."""
    path = str(tmp_path / "shared.sock")
    srv, c1, c2, c3 = (Dataplane(n) for n in ("srv", "c1", "c2", "c3"))
    try:
        for dp in (srv, c1, c2, c3):
            dp.add_socket(1, path)
        srv.add_interface(1, 10, role="server", enabled=True, rx_mode="python")
        srv.add_interface(1, 20, role="server", enabled=True, rx_mode="python")
        c1.add_interface(
            1, 10, role="client", enabled=True, rx_queues=2, tx_queues=3, rx_mode="python"
        )
        c2.add_interface(1, 20, role="client", enabled=True, rx_mode="python")
        wait(lambda: up(srv, 1, 10) and up(srv, 1, 20))
        s = srv.interface_state(1, 10)
        assert (s["rx-queues"], s["tx-queues"]) == (3, 2)  # the client's tx are our rx
        assert srv.interface_state(1, 20)["remote-name"] == "c2"
        data, lens = frames([100, 200])
        assert c1.tx_burst(1, 10, 2, data, lens) == 2
        got, glens = [], []
        end = time.time() + 5
        while len(glens) < 2 and time.time() < end:
            d, n = srv.rx_burst(1, 10, 2, 256)
            got.append(d)
            glens += n
        assert glens == lens and b"".join(got) == data
        assert srv.rx_burst(1, 20, 0, 256)[1] == []  # nothing leaked to the other id
        with pytest.raises(MemifError, match="no queue 3"):
            srv.rx_burst(1, 10, 3, 1)
        # a second peer for an id that is connected is refused
        c3.add_interface(1, 10, role="client", enabled=True)
        wait(lambda: c3.interface_state(1, 10)["remote-disconnect-reason"] == "already connected")
        assert up(srv, 1, 10)
    finally:
        for dp in (c3, c2, c1, srv):
            dp.close()


def test_state_blob_says_what_state_says(pair) -> None:
    """The blob <get> reads (dataplane.state_blob) holds every value of state():
    listening and client sockets, linked interfaces with queues and traffic,
    one down with a reason, one disabled."""
    from dataplane import control_replies as check
    from dataplane.state_blob import decode

    srv, cli, _ = pair
    srv.add_interface(1, 5, role="server", enabled=True, rx_mode="python")
    cli.add_interface(1, 5, role="client", enabled=True, rx_mode="python", rx_queues=2)
    srv.add_interface(1, 6, role="server", enabled=False)
    cli.add_interface(1, 7, role="client", enabled=True, secret="wrong")
    srv.add_interface(1, 7, role="server", enabled=True, secret="right")
    wait(lambda: up(srv, 1, 5) and up(cli, 1, 5))
    wait(lambda: cli.interface_state(1, 7)["remote-disconnect-reason"] != "")
    data, lens = frames([64, 1500] * 10)
    assert cli.tx_burst(1, 5, 0, data, lens) == len(lens)
    recv_all(srv, 1, 5, len(lens))
    for dp in (srv, cli):
        # Two reads, so a retry (memif1/7's client) may fall between them: wait for a
        # pair that agrees.
        wait(lambda dp=dp: decode(dp.state_blob()) == check.state(dp.state()), 10)
        assert any(i.get("queues") for i in decode(dp.state_blob())["interfaces"])
