"""NETCONF benchmarks: the agent and yuma123 netconfd in the same run, with the
same client, and their ratio on every row.

netconfd (Debian `netconfd`, started by tests/support/netconfd.py behind a private
sshd) loads the same YANG module with candidate and startup; both servers start
from an empty configuration. The same raw NETCONF 1.1 client
(tools/bench/nc_raw.py, asyncssh; ncclient costs ~0.6 ms of client CPU per
request) drives both, one request at a time. The echo server
(tools/bench/echo_server.py: a fixed <ok/> to every message, no XML work) is
the SSH floor for the request rates. Servers run on core 1, this client on
core 0; every row is repeated and given as min and median.

    .venv/bin/python tools/bench/netconf.py [--markdown] [--runs 5] [--seconds 2]

A full run takes ~15-20 minutes, most of it netconfd's 10,000-entry rows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT))
from netconfd import HELLO_SETTLE, Netconfd, _descendants  # noqa: E402

from tools.bench.nc_raw import RawSession  # noqa: E402
from tools.bench.processes import start, start_agent  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"
SMALL_GET = (
    f'<get-config><source><running/></source><filter><memif xmlns="{NS}"><socket><id>1</id>'
    "</socket></memif></filter></get-config>"
).encode()
FULL_GET = (
    f'<get-config><source><running/></source><filter><memif xmlns="{NS}"/></filter></get-config>'
).encode()
CLEAR = (
    b"<edit-config><target><candidate/></target><default-operation>replace</default-operation>"
    b'<config><memif xmlns="%s"/></config></edit-config>' % NS.encode()
)

Login = dict[str, Any]


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


def small_edit(i: int) -> bytes:
    """One leaf of one entry; consecutive values of `i` change it."""
    return edit(
        (
            f'<memif xmlns="{NS}"><interface><socket-id>1</socket-id><id>999999</id>'
            f"<ring-size>{10 + i % 3}</ring-size></interface></memif>"
        ).encode()
    )


async def call(s: RawSession, body: bytes) -> bytes:
    reply = await s.call(body)
    if b"rpc-error>" in reply:
        raise RuntimeError(reply.decode(errors="replace")[:800])
    return reply


async def timed(s: RawSession, body: bytes) -> float:
    t = time.perf_counter()
    await call(s, body)
    return time.perf_counter() - t


async def load(s: RawSession, config: bytes | None) -> None:
    """Replace the candidate's memif tree with `config` (None: empty) and commit."""
    await call(s, CLEAR)
    if config is not None:
        await call(s, edit(config))
    await call(s, b"<commit/>")


async def rates(
    login: Login,
    body: bytes,
    sessions: int,
    seconds: float,
    runs: int,
    cpu: dict[str, list] | None = None,
) -> list[float]:
    """Request rate of `sessions` sessions each sending one request at a time,
    `runs` runs of `seconds`. With `cpu` (holding "pids": a callable giving the
    server's processes), the CPU time per request of this client and of those
    processes is appended to cpu["client"] and cpu["server"] (seconds)."""
    conns = [await RawSession.connect(**login) for _ in range(sessions)]
    out = []
    try:
        await asyncio.gather(*(call(c, body) for c in conns))
        for _ in range(runs):
            pids = cpu["pids"]() if cpu is not None else []
            server0, client0 = cpu_seconds(pids), time.process_time()
            stop = time.perf_counter() + seconds
            t = time.perf_counter()
            counts = await asyncio.gather(*(_requests_until(c, body, stop) for c in conns))
            out.append(sum(counts) / (time.perf_counter() - t))
            if cpu is not None:
                cpu["client"].append((time.process_time() - client0) / sum(counts))
                cpu["server"].append((cpu_seconds(pids) - server0) / sum(counts))
    finally:
        for c in conns:
            c.close()
    return out


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of processes `pids` (those gone count 0)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / _TICK


async def _requests_until(s: RawSession, body: bytes, stop: float) -> int:
    count = 0
    while time.perf_counter() < stop:
        await s.call(body)
        count += 1
    return count


async def bench_servers(
    logins: dict[str, Login],
    runs: int,
    seconds: float,
    cycles: int,
    pids: dict[str, Callable[[], list[int]]],
) -> dict[str, dict[str, list]]:
    """Every row against every server, the servers taking turns within each
    row's repetitions: load from the other helpers on this machine changes by
    the second, and turns spread it over both instead of one."""
    names = list(logins)
    r: dict[str, dict[str, list]] = {name: {} for name in names}
    ss = {name: await RawSession.connect(**login) for name, login in logins.items()}
    for n, key, reps in ((1000, "commit_1k", runs), (10_000, "commit_10k", max(2, runs // 2))):
        config = interfaces(n)
        for name in names:
            r[name][key + "_edit"], r[name][key] = [], []
        for _ in range(reps):
            for name, s in ss.items():
                await load(s, None)
                t_edit = await timed(s, edit(config))
                t_commit = await timed(s, b"<commit/>")
                r[name][key + "_edit"].append(t_edit)
                r[name][key].append(t_edit + t_commit)
    for name, s in ss.items():
        await load(s, interfaces(1000))
        r[name]["small_cycle"], r[name]["full_get"] = [], []
    for i in range(cycles):
        for name, s in ss.items():
            t = await timed(s, small_edit(i))
            r[name]["small_cycle"].append(t + await timed(s, b"<commit/>"))
    for _ in range(cycles):
        for name, s in ss.items():
            r[name]["full_get"].append(await timed(s, FULL_GET))
    for s in ss.values():
        await load(s, interfaces(10, sockets=10))
        s.close()
    for key, sessions in (("get_1", 1), ("get_10", 10)):
        for name in names:
            r[name][key] = []
            r[name][key + "_cpu"] = {"pids": pids[name], "client": [], "server": []}
        for _ in range(runs):
            for name, login in logins.items():
                cpu = r[name][key + "_cpu"]
                r[name][key] += await rates(login, SMALL_GET, sessions, seconds, 1, cpu)
    return r


async def bench_watched(login: Login, cycles: int) -> dict[str, list]:
    """Small edit + commit on the agent with and without a session subscribed
    (every commit then also works out its RFC 6470 netconf-config-change)."""
    s = await RawSession.connect(**login)
    await load(s, interfaces(1000))
    plain = []
    for i in range(cycles):
        plain.append(await timed(s, small_edit(i)) + await timed(s, b"<commit/>"))
    watcher = await RawSession.connect(**login)
    await call(
        watcher, b'<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>'
    )
    got = [0]

    async def drain() -> None:
        while True:
            if b"netconf-config-change" in await watcher.read():
                got[0] += 1

    reader = asyncio.ensure_future(drain())
    watched = []
    for i in range(cycles, 2 * cycles):
        watched.append(await timed(s, small_edit(i)) + await timed(s, b"<commit/>"))
    deadline = time.monotonic() + 5
    while got[0] < cycles and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    reader.cancel()
    watcher.close()
    s.close()
    if got[0] != cycles:
        raise RuntimeError(f"{cycles} commits but {got[0]} config-change events")
    return {"plain": plain, "watched": watched}


def pin(pids: list[int], core: int) -> None:
    if len(os.sched_getaffinity(0)) >= 2:
        for pid in pids:
            os.sched_setaffinity(pid, {core})


def stats(values: list[float]) -> tuple[float, float]:
    return min(values), statistics.median(values)


def ms(values: list[float]) -> str:
    lo, med = stats(values)
    return f"{lo * 1000:.1f} / {med * 1000:.1f} ms"


def per_s(values: list[float]) -> str:
    # For rates the best run is the max; "min / median" keeps the column's meaning.
    lo, med = stats(values)
    return f"{lo:,.0f} / {med:,.0f}/s"


def ratio(ours: list[float], theirs: list[float], higher_is_better: bool = False) -> str:
    """How many times better the agent's median is than the other's."""
    a, b = statistics.median(ours), statistics.median(theirs)
    x = a / b if higher_is_better else b / a
    return f"{x:.2f}x" + ("" if x >= 0.995 else " (slower)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5, help="repetitions of each bulk commit and rate")
    ap.add_argument("--cycles", type=int, default=40, help="small edit+commit cycles")
    ap.add_argument("--seconds", type=float, default=2.0, help="length of one rate run")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--agent-only", action="store_true", help="skip netconfd and the echo server")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-nc-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    pin([0], 0)
    agent, aport = start_agent(work, "--no-dataplane")
    procs = [agent]
    logins: dict[str, Login] = {
        "agent": dict(
            host="127.0.0.1", port=aport, username="admin", password="admin", known_hosts=None
        )
    }
    results: dict[str, dict[str, list]] = {}
    nc: Netconfd | None = None
    try:
        if not args.agent_only:
            echo, eport = start([sys.executable, "tools/bench/echo_server.py"])
            procs.append(echo)
            echo_login: Login = dict(logins["agent"], port=eport)
            # --indent=0: netconfd pretty-prints replies by default; the agent does not.
            nc = Netconfd(work / "netconfd", extra_args=("--indent=0",)).start()
            assert nc.sshd is not None and nc.netconfd is not None
            # sshd's per-session children and netconf-subsystem inherit its core.
            procs += [nc.sshd, nc.netconfd]
            logins["netconfd"] = nc.asyncssh_kwargs(settle=HELLO_SETTLE)
        pin([p.pid for p in procs], 1)
        pids: dict[str, Callable[[], list[int]]] = {"agent": lambda: [agent.pid]}
        if nc is not None:
            # sshd forks a child per connection, which runs netconf-subsystem.
            sshd, ncd = nc.sshd, nc.netconfd
            pids["netconfd"] = lambda: [sshd.pid, ncd.pid, *_descendants(sshd.pid)]
        results = asyncio.run(bench_servers(logins, args.runs, args.seconds, args.cycles, pids))
        results["watch"] = asyncio.run(bench_watched(logins["agent"], args.cycles))
        if not args.agent_only:
            results["echo"] = {}
            for key, sessions in (("get_1", 1), ("get_10", 10)):
                cpu = {"pids": lambda: [echo.pid], "client": [], "server": []}
                results["echo"][key] = asyncio.run(
                    rates(echo_login, SMALL_GET, sessions, args.seconds, args.runs, cpu)
                )
                results["echo"][key + "_cpu"] = cpu
    finally:
        if nc is not None:
            nc.stop()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait()
    print(f"run of {started}, {args.runs} runs, {args.cycles} small cycles, {args.seconds} s rates")
    print_table(*rows(results, args.agent_only), args.markdown)


def rows(res: dict[str, dict[str, list]], agent_only: bool) -> tuple[tuple[str, ...], list]:
    a = res["agent"]
    n = res.get("netconfd")
    e = res.get("echo")
    table: list[tuple[str, ...]] = []

    def row(label: str, key: str, fmt: Callable[[list[float]], str], higher: bool = False) -> None:
        if agent_only or n is None:
            table.append((label, fmt(a[key]), "—", "—"))
        else:
            table.append((label, fmt(a[key]), fmt(n[key]), ratio(a[key], n[key], higher)))

    row("edit-config 1,000 interfaces + commit", "commit_1k", ms)
    row("  of which the edit-config", "commit_1k_edit", ms)
    row("edit-config 10,000 interfaces + commit", "commit_10k", ms)
    row("  of which the edit-config", "commit_10k_edit", ms)
    row("small edit + commit, 1,000 present", "small_cycle", ms)
    row("full get-config of 1,000 interfaces", "full_get", ms)
    row("small get-config, 1 session", "get_1", per_s, True)
    row("small get-config, 10 sessions", "get_10", per_s, True)
    w = res["watch"]
    table.append(
        (
            "small edit + commit, a session subscribed",
            ms(w["watched"]),
            f"agent unsubscribed {ms(w['plain'])}",
            f"{statistics.median(w['watched']) / statistics.median(w['plain']):.2f}x the time",
        )
    )
    if e is not None:
        for key, label in (("get_1", "1 session"), ("get_10", "10 sessions")):
            table.append(
                (
                    f"small get-config, {label}, against the echo floor",
                    per_s(a[key]),
                    f"echo server {per_s(e[key])}",
                    f"{statistics.median(a[key]) / statistics.median(e[key]):.2f}x",
                )
            )
    # CPU per small get-config: where one session's round trip goes.
    for key, label in (("get_1", "1 session"), ("get_10", "10 sessions")):
        cells = []
        for who, tag in ((a, ""), (n, ""), (e, "echo server: ")):
            cpu = who.get(key + "_cpu") if who is not None else None
            if not cpu or not cpu["server"]:
                cells.append("—")
                continue
            cells.append(
                f"{tag}{statistics.median(cpu['server']) * 1e6:.0f} µs server, "
                f"{statistics.median(cpu['client']) * 1e6:.0f} µs client"
            )
        table.append((f"CPU per small get-config, {label} (median)", cells[0], cells[1], cells[2]))
    header = ("measure (min / median)", "memif-agent", "netconfd (same run)", "agent advantage")
    return header, table


if __name__ == "__main__":
    main()
