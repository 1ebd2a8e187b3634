"""Load: many NETCONF sessions doing mixed get/edit/commit while a memif peer
passes traffic through the agent.

Each session owns one interface (socket 1, id = session number) and keeps
changing its ring-size with edit-config on running, reads with get-config and
get, and commits; at the end running must hold every session's last
acknowledged value (no lost commit), the only errors allowed are lock
contention, and the traffic counters must have kept rising.

    .venv/bin/python tools/bench/load.py [--sessions 50] [--seconds 60]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from ncclient.operations.rpc import RPCError  # noqa: E402

from tools.bench.processes import connect, start_agent  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"
CONTENTION = {"in-use", "lock-denied"}


def cfg(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def rx_packets(m, sid: int, iid: int) -> int:
    d = m.get(
        filter=(
            "subtree",
            f'<memif xmlns="{NS}"><interface><socket-id>{sid}</socket-id>'
            f"<id>{iid}</id></interface></memif>",
        )
    ).data
    v = d.xpath("//m:counters/m:rx-packets/text()", namespaces={"m": NS})
    return int(v[0]) if v else 0


def run_load(port: int, sessions: int, seconds: float, peer: tuple[int, int]) -> dict:
    stats = {"ops": 0, "commits": 0, "contention": 0, "errors": [], "traffic": []}
    last: dict[int, int] = {}
    lock = threading.Lock()
    stop = time.time() + seconds

    def worker(n: int) -> None:
        rng = random.Random(n)
        m = connect(port, timeout=60)
        try:
            while time.time() < stop:
                op = rng.random()
                try:
                    if op < 0.4:
                        m.get_config("running", filter=("subtree", f'<memif xmlns="{NS}"/>'))
                    elif op < 0.6:
                        m.get(filter=("subtree", f'<memif xmlns="{NS}"><socket/></memif>'))
                    elif op < 0.9:
                        size = rng.randint(8, 14)
                        m.edit_config(
                            target="running",
                            config=cfg(
                                f"<interface><socket-id>1</socket-id><id>{n}</id>"
                                f"<ring-size>{size}</ring-size></interface>"
                            ),
                        )
                        with lock:
                            last[n] = size
                            stats["commits"] += 1
                    else:
                        m.commit()
                    with lock:
                        stats["ops"] += 1
                except RPCError as e:
                    with lock:
                        if e.tag in CONTENTION:
                            stats["contention"] += 1
                        else:
                            stats["errors"].append(f"{e.tag}: {e.message}")
        finally:
            m.close_session()

    monitor = connect(port)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(1, sessions + 1)]
    t0 = time.time()
    for t in threads:
        t.start()
    while time.time() < stop:
        stats["traffic"].append(rx_packets(monitor, *peer))
        time.sleep(max(seconds / 10, 0.5))
    for t in threads:
        t.join()
    stats["traffic"].append(rx_packets(monitor, *peer))
    stats["seconds"] = time.time() - t0
    d = monitor.get_config("running").data
    lost = []
    for n, size in last.items():
        got = d.xpath(
            f"//m:interface[m:socket-id='1'][m:id='{n}']/m:ring-size/text()", namespaces={"m": NS}
        )
        if got != [str(size)]:
            lost.append((n, size, got))
    stats["lost"] = lost
    monitor.close_session()
    return stats


def main() -> None:
    from testpmd import TestPmd

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    agent, port = start_agent(work, "--max-sessions", str(args.sessions + 10))
    sock = str(work / "traffic.sock")
    m = connect(port)
    m.edit_config(
        target="running",
        config=cfg(
            f"<socket><id>1</id><filename>{work}/s1.sock</filename></socket>"
            f"<socket><id>2</id><filename>{sock}</filename></socket>"
            "<interface><socket-id>2</socket-id><id>0</id><enabled>true</enabled></interface>"
            + "".join(
                f"<interface><socket-id>1</socket-id><id>{n}</id></interface>"
                for n in range(1, args.sessions + 1)
            )
        ),
    )
    pmd = TestPmd(sock, "client", forward="txonly", txpkts=64)
    try:
        while rx_packets(m, 2, 0) == 0:
            pmd.start()
            time.sleep(1)
        m.close_session()
        s = run_load(port, args.sessions, args.seconds, (2, 0))
    finally:
        pmd.quit()
        agent.terminate()
        agent.wait()
    rising = all(b > a for a, b in zip(s["traffic"], s["traffic"][1:], strict=False))
    print(
        f"sessions {args.sessions}, {s['seconds']:.0f} s: {s['ops']} operations "
        f"({s['ops'] / s['seconds']:.0f}/s), {s['commits']} acknowledged edits of running, "
        f"{s['contention']} lock contentions, {len(s['errors'])} other errors, "
        f"{len(s['lost'])} lost commits; traffic rx {s['traffic'][0]} -> {s['traffic'][-1]} "
        f"packets, rising at every sample: {rising}"
    )
    for e in s["errors"][:5]:
        print("error:", e)


if __name__ == "__main__":
    main()
