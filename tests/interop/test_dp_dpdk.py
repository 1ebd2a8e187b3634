"""Our memif against DPDK's net_memif (dpdk-testpmd) in both roles: link,
traffic at 64, 1500 and 9000 B with zero loss at a moderate rate, counters on
both sides, reconnect after the peer restarts."""

from __future__ import annotations

import time

import pytest
from agent_harness import wait_until as wait
from testpmd import TestPmd

from dataplane import Dataplane


def up(dp, sid, iid) -> bool:
    return dp.interface_state(sid, iid)["link-status"] == "up"


def sock_state(dp, sid: int = 1) -> dict:
    return next(s for s in dp.state()["sockets"] if s["id"] == sid)


def send_paced(dp, sid, iid, size, count, batch=16) -> int:
    sent = 0
    frame = bytes(range(256)) * (size // 256 + 1)
    data = frame[:size] * batch
    while sent < count:
        n = dp.tx_burst(sid, iid, 0, data, [size] * min(batch, count - sent))
        sent += n
        time.sleep(0.0005)  # moderate rate: no ring overrun, so no loss is allowed
    return sent


@pytest.fixture
def dp():
    d = Dataplane("memif-agent-test")
    yield d
    d.close()


def test_we_serve_testpmd_client(dp, tmp_path) -> None:
    sock = str(tmp_path / "srv.sock")
    dp.add_socket(1, sock)
    dp.add_interface(1, 7, role="server", enabled=True, rx_mode="python")
    pmd = TestPmd(sock, "client", if_id=7, forward="rxonly")
    try:
        wait(lambda: up(dp, 1, 7))
        st = dp.interface_state(1, 7)
        assert st["remote-name"].startswith("DPDK") and st["buffer-size"] == 2048
        pmd.start()
        total = 0
        for size in (64, 1500, 9000):
            total += send_paced(dp, 1, 7, size, 300)
        assert total == 900
        wait(lambda: pmd.stats()["rx"] == total, what="testpmd received all 900")
        pmd.send("stop")
        assert dp.interface_state(1, 7)["counters"]["tx-packets"] == 900
        # testpmd transmits: we receive every frame
        pmd.send("set fwd txonly", "set txpkts 1500")
        pmd.start()
        got = 0
        end = time.time() + 1.0
        while time.time() < end:
            got += len(dp.rx_burst(1, 7, 0, 256)[1])
        pmd.send("stop")

        def drained() -> bool:
            nonlocal got
            got += len(dp.rx_burst(1, 7, 0, 256)[1])
            return got == pmd.stats()["tx"]

        wait(drained, what="every frame testpmd sent received")
        assert got > 1000
        assert dp.interface_state(1, 7)["counters"]["bad-descriptors"] == 0
    finally:
        pmd.quit()


def test_we_connect_to_testpmd_server_and_reconnect(dp, tmp_path) -> None:
    sock = str(tmp_path / "pmd.sock")
    pmd = TestPmd(sock, "server", if_id=3, forward="rxonly")
    try:
        dp.add_socket(1, sock)
        dp.add_interface(1, 3, role="client", enabled=True, rx_mode="python", tx_queues=1)
        wait(lambda: up(dp, 1, 3))
        pmd.start()
        total = sum(send_paced(dp, 1, 3, size, 200) for size in (64, 1500, 9000))
        assert total == 600
        wait(lambda: pmd.stats()["rx"] == total, what="testpmd received all 600")
        pmd.send("stop")
    finally:
        pmd.quit()
    wait(lambda: not up(dp, 1, 3))
    assert dp.events()[-1]["up"] is False
    # the server comes back: our client retries on its own
    pmd = TestPmd(sock, "server", if_id=3, forward="rxonly")
    try:
        wait(lambda: up(dp, 1, 3))
        pmd.start()
        assert send_paced(dp, 1, 3, 64, 100) == 100
        wait(lambda: pmd.stats()["rx"] == 100, what="testpmd received all 100")
        pmd.send("stop")
    finally:
        pmd.quit()


def test_testpmd_with_wrong_secret_is_refused(dp, tmp_path) -> None:
    sock = str(tmp_path / "s.sock")
    dp.add_socket(1, sock)
    dp.add_interface(1, 0, role="server", enabled=True, secret="good")
    pmd = TestPmd(sock, "client", if_id=0, extra_vdev=",secret=bad")
    try:
        wait(
            lambda: "incorrect secret" in sock_state(dp).get("last-refusal", ""),
            what="the wrong secret refused",
        )
        assert not up(dp, 1, 0)
        mark = len(pmd.out)
        pmd.send("show port info 0")
        assert pmd.wait_for(r"Link status:\s*(\w+)", start=mark).group(1) == "down"
    finally:
        pmd.quit()
    # the same peer with the right secret connects
    pmd = TestPmd(sock, "client", if_id=0, extra_vdev=",secret=good")
    try:
        wait(lambda: up(dp, 1, 0))
    finally:
        pmd.quit()
