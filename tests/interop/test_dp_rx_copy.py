"""The benchmark's copying sink (start_traffic kind="rx-copy"): every frame is
copied out of the ring, chains included, and counted as received, not dropped."""

from __future__ import annotations

import pytest
from agent_harness import wait_until as wait

from dataplane import Dataplane, MemifError


def test_rx_copy_counts_every_frame_and_byte(tmp_path) -> None:
    srv, cli = Dataplane("srv-app"), Dataplane("cli-app")
    try:
        path = str(tmp_path / "m.sock")
        srv.add_socket(1, path)
        cli.add_socket(1, path)
        srv.add_interface(1, 1, role="server", enabled=True)
        cli.add_interface(1, 1, role="client", enabled=True)
        wait(lambda: srv.interface_state(1, 1)["link-status"] == "up")
        wait(lambda: cli.interface_state(1, 1)["link-status"] == "up")
        with pytest.raises(MemifError, match="rx-copy"):
            srv.start_traffic(1, 1, kind="copy")
        srv.start_traffic(1, 1, kind="rx-copy")
        sizes = [64, 1500, 9000] * 20  # 9000 B: a chain of descriptors
        sent = 0
        for n in sizes:
            frame = bytes([n % 251]) * n
            wait(lambda frame=frame: cli.tx_burst(1, 1, 0, frame, [len(frame)]) == 1)
            sent += 1
        c = lambda: srv.interface_state(1, 1)["counters"]  # noqa: E731
        wait(lambda: c()["rx-packets"] == sent)
        assert c()["rx-bytes"] == sum(sizes)
        assert c()["rx-drops"] == 0 and c()["bad-descriptors"] == 0
        srv.stop_traffic(1, 1)
    finally:
        cli.close()
        srv.close()
