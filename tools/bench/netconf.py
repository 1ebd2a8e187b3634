"""NETCONF benchmarks (issue 4, design §6), client-side wall time over SSH.

Anchor measured in the same run: tools/bench/echo_server.py, an asyncssh
server answering every message with a fixed <ok/> (no XML work at all); the
agent's request rates are given as a ratio of it. Commit times are compared
with the design's yuma123 figures (not measurable here: Debian ships no
netconfd) and with the targets. Requests are sent with a raw asyncssh client
(tools/bench/nc_raw.py) because ncclient costs ~0.6 ms of client CPU per RPC.
Server (agent or anchor) and client each get a core of their own, and every
rate is the best of three runs: single runs on this shared 2-core machine
varied by +-10%.

    .venv/bin/python tools/bench/netconf.py [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.bench.nc_raw import RawSession  # noqa: E402
from tools.bench.processes import start, start_agent  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"
SMALL_GET = (
    f'<get-config><source><running/></source><filter><memif xmlns="{NS}"><socket><id>1</id>'
    "</socket></memif></filter></get-config>"
).encode()


def interfaces(n: int, sockets: int = 100, first_id: int = 1) -> bytes:
    parts = [f'<memif xmlns="{NS}">']
    parts += [
        f"<socket><id>{s}</id><filename>/tmp/bench-memif/{s}.sock</filename></socket>"
        for s in range(1, sockets + 1)
    ]
    parts += [
        f"<interface><socket-id>{i % sockets + 1}</socket-id><id>{i}</id>"
        "<enabled>true</enabled></interface>"
        for i in range(first_id, first_id + n)
    ]
    parts.append("</memif>")
    return "".join(parts).encode()


def edit(config: bytes, target: str = "candidate", op: str = "") -> bytes:
    dop = f"<default-operation>{op}</default-operation>" if op else ""
    return b"<edit-config><target><%s/></target>%s<config>%s</config></edit-config>" % (
        target.encode(),
        dop.encode(),
        config,
    )


async def timed(s: RawSession, body: bytes) -> float:
    t = time.perf_counter()
    reply = await s.call(body)
    if b"<rpc-error>" in reply:
        raise RuntimeError(reply.decode()[:500])
    return time.perf_counter() - t


async def rate(port: int, body: bytes, sessions: int, seconds: float, runs: int = 3) -> float:
    """Best of `runs` runs of sequential request/reply per session (no pipelining),
    all sessions at once."""
    return max([await _rate(port, body, sessions, seconds) for _ in range(runs)])


async def _rate(port: int, body: bytes, sessions: int, seconds: float) -> float:
    conns = [await RawSession.open(port) for _ in range(sessions)]
    await asyncio.gather(*(c.call(body) for c in conns))
    count = 0
    stop = time.perf_counter() + seconds

    async def loop(c: RawSession) -> None:
        nonlocal count
        while time.perf_counter() < stop:
            await c.call(body)
            count += 1

    t = time.perf_counter()
    await asyncio.gather(*(loop(c) for c in conns))
    elapsed = time.perf_counter() - t
    for c in conns:
        c.close()
    return count / elapsed


async def bench_agent(port: int, seconds: float) -> dict[str, float]:
    r: dict[str, float] = {}
    s = await RawSession.open(port)
    clear = edit(f'<memif xmlns="{NS}"/>'.encode(), op="replace")
    for n, key in ((1000, "commit_1k"), (10_000, "commit_10k")):
        best = float("inf")
        for _ in range(3):
            await s.call(clear)
            await s.call(b"<commit/>")
            t = await timed(s, edit(interfaces(n)))
            t += await timed(s, b"<commit/>")
            best = min(best, t)
        r[key] = best
    await s.call(clear)
    await s.call(b"<commit/>")
    await s.call(edit(interfaces(1000)))
    await s.call(b"<commit/>")
    r["small_cycle"], done = await small_cycles(s, seconds)
    # The same with a subscribed session: every commit now also works out its
    # RFC 6470 netconf-config-change (after its reply, before the next request).
    watcher = await RawSession.open(port)
    await watcher.call(
        b'<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>'
    )
    got = [0]

    async def drain() -> None:
        while True:
            if b"netconf-config-change" in await watcher.read():
                got[0] += 1

    reader = asyncio.ensure_future(drain())
    r["small_cycle_watched"], cycles = await small_cycles(s, seconds, done)
    await asyncio.sleep(0.2)
    reader.cancel()
    watcher.close()
    if got[0] != cycles:
        raise RuntimeError(f"{cycles} commits but {got[0]} config-change events")
    await s.call(clear)
    await s.call(b"<commit/>")
    await s.call(edit(interfaces(10, sockets=10)))
    await s.call(b"<commit/>")
    s.close()
    r["get_1"] = await rate(port, SMALL_GET, 1, seconds)
    r["get_10"] = await rate(port, SMALL_GET, 10, seconds)
    return r


async def small_cycles(s: RawSession, seconds: float, first: int = 0) -> tuple[float, int]:
    """Mean time of one small edit-config + commit (one leaf of one entry), and
    how many ran; each commit changes the leaf if `first` is how many ran before."""
    cycles, total = 0, 0.0
    while total < seconds:
        leaf = f"<ring-size>{10 + (first + cycles) % 3}</ring-size>"
        small = (
            f'<memif xmlns="{NS}"><interface><socket-id>1</socket-id><id>999999</id>'
            f"{leaf}</interface></memif>"
        )
        total += await timed(s, edit(small.encode()))
        total += await timed(s, b"<commit/>")
        cycles += 1
    return total / cycles, cycles


async def bench_echo(port: int, seconds: float) -> dict[str, float]:
    return {
        "get_1": await rate(port, SMALL_GET, 1, seconds),
        "get_10": await rate(port, SMALL_GET, 10, seconds),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-nc-"))
    echo, eport = start([sys.executable, "tools/bench/echo_server.py"])
    agent, aport = start_agent(work, "--no-dataplane")
    if len(os.sched_getaffinity(0)) >= 2:
        # Servers on core 1, this client on core 0: no migrations between runs.
        for p in (echo, agent):
            os.sched_setaffinity(p.pid, {1})
        os.sched_setaffinity(0, {0})
    try:
        anchor = asyncio.run(bench_echo(eport, args.seconds))
        ours = asyncio.run(bench_agent(aport, args.seconds))
    finally:
        for p in (echo, agent):
            p.terminate()
            p.wait()
    rows = [
        (
            "edit-config 1,000 interfaces + commit",
            f"{ours['commit_1k'] * 1000:.0f} ms",
            "yuma123 96 ms (design §6)",
            f"{0.096 / ours['commit_1k']:.2f}x faster",
            "≤ 100 ms",
        ),
        (
            "edit-config 10,000 interfaces + commit",
            f"{ours['commit_10k'] * 1000:.0f} ms",
            "—",
            "—",
            "≤ 1,000 ms",
        ),
        (
            "small edit + commit, 1,000 entries present",
            f"{ours['small_cycle'] * 1000:.1f} ms",
            "yuma123 106 ms (design §6)",
            f"{0.106 / ours['small_cycle']:.1f}x faster",
            "≤ 5 ms",
        ),
        (
            "the same, a session subscribed (config-change events)",
            f"{ours['small_cycle_watched'] * 1000:.1f} ms",
            f"no subscriber {ours['small_cycle'] * 1000:.1f} ms (same run)",
            f"{ours['small_cycle_watched'] / ours['small_cycle']:.2f}x",
            "—",
        ),
        (
            "small get-config, 1 session",
            f"{ours['get_1']:,.0f}/s",
            f"echo server {anchor['get_1']:,.0f}/s (same run)",
            f"{ours['get_1'] / anchor['get_1']:.2f}x",
            "≥ 2,000/s",
        ),
        (
            "small get-config, 10 sessions",
            f"{ours['get_10']:,.0f}/s",
            f"echo server {anchor['get_10']:,.0f}/s (same run)",
            f"{ours['get_10'] / anchor['get_10']:.2f}x",
            "≥ 7,000/s",
        ),
    ]
    print_table(("measure", "memif-agent", "anchor", "ratio", "target"), rows, args.markdown)


if __name__ == "__main__":
    main()
