"""A short load run (20 sessions, 10 s) of tools/bench/load.py: mixed
get/edit/commit while dpdk-testpmd passes traffic through the agent. No error
but lock contention, no lost commit, traffic counters rising throughout."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from testpmd import TestPmd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools.bench.load import cfg, run_load, rx_packets  # noqa: E402


def test_load_with_traffic(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a", "--max-sessions", "40")
    sock = str(tmp_path / "traffic.sock")
    m = ag.connect()
    m.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>1</id><filename>{tmp_path}/s1.sock</filename></socket>"
            f"<socket><id>2</id><filename>{sock}</filename></socket>"
            "<interface><socket-id>2</socket-id><id>0</id><enabled>true</enabled></interface>"
            + "".join(
                f"<interface><socket-id>1</socket-id><id>{n}</id></interface>" for n in range(1, 21)
            )
        ),
    )
    pmd = TestPmd(sock, "client", forward="txonly", txpkts=64)
    try:
        end = time.time() + 20
        while rx_packets(m, 2, 0) == 0:
            assert time.time() < end, "no traffic"
            pmd.start()
            time.sleep(1)
        s = run_load(ag.port, 20, 10, (2, 0))
    finally:
        pmd.quit()
    assert s["errors"] == []
    assert s["lost"] == []
    assert s["commits"] > 100
    assert all(b > a for a, b in zip(s["traffic"], s["traffic"][1:], strict=False)), s["traffic"]
