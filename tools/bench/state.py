"""<get> with live state against get-config of the same configuration (issue 17):
an agent with its dataplane, 1,000 server interfaces on 100 listening sockets
(no peers), and `<get>` and `<get-config>` of `<memif/>` taking turns, with the
raw client of tools/bench/netconf.py (which reads the reply, not parses it)
and with ncclient (which parses it, as memifctl and most tools do). Every row
is min / median; the ratio is of the medians.

    .venv/bin/python tools/bench/state.py [--markdown] [--reps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.bench.nc_raw import RawSession  # noqa: E402
from tools.bench.processes import connect, start_agent  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"
GET = f'<get><filter><memif xmlns="{NS}"/></filter></get>'.encode()
GET_CONFIG = (
    f'<get-config><source><running/></source><filter><memif xmlns="{NS}"/></filter></get-config>'
).encode()


def config(work: Path, n: int = 1000, sockets: int = 100) -> bytes:
    body = "".join(
        f"<socket><id>{s}</id><filename>{work}/bulk/{s}.sock</filename></socket>"
        for s in range(100, 100 + sockets)
    )
    body += "".join(
        f"<interface><socket-id>{100 + i % sockets}</socket-id><id>{i}</id>"
        "<enabled>true</enabled></interface>"
        for i in range(n)
    )
    return f'<memif xmlns="{NS}">{body}</memif>'.encode()


async def raw_rows(port: int, work: Path, reps: int) -> dict[str, list[float]]:
    s = await RawSession.open(port)
    try:
        (work / "bulk").mkdir(exist_ok=True)
        for body in (
            b"<edit-config><target><candidate/></target><config>%s</config></edit-config>"
            % config(work),
            b"<commit/>",
        ):
            reply = await s.call(body)
            if b"rpc-error" in reply:
                raise RuntimeError(reply.decode(errors="replace")[:800])
        out: dict[str, list[float]] = {"get": [], "get_config": [], "get_size": [], "gc_size": []}
        for _ in range(reps):  # in turns: load from other processes hits both alike
            for key, body in (("get", GET), ("get_config", GET_CONFIG)):
                t = time.perf_counter()
                reply = await s.call(body)
                out[key].append(time.perf_counter() - t)
                out["get_size" if key == "get" else "gc_size"].append(len(reply))
        if b"<counters>" not in reply and b"<counters>" not in await s.call(GET):
            raise RuntimeError("<get> carried no live state")
        return out
    finally:
        s.close()


def ncclient_rows(port: int, reps: int) -> dict[str, list[float]]:
    m = connect(port)
    subtree = ("subtree", f'<memif xmlns="{NS}"/>')
    out: dict[str, list[float]] = {"get": [], "get_config": []}
    try:
        for _ in range(reps):
            t = time.perf_counter()
            m.get(filter=subtree)
            out["get"].append(time.perf_counter() - t)
            t = time.perf_counter()
            m.get_config("running", filter=subtree)
            out["get_config"].append(time.perf_counter() - t)
    finally:
        m.close_session()
    return out


def ms(values: list[float]) -> str:
    return f"{min(values) * 1000:.1f} / {statistics.median(values) * 1000:.1f} ms"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-state-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    agent, port = start_agent(work)
    try:
        raw = asyncio.run(raw_rows(port, work, args.reps))
        nc = ncclient_rows(port, args.reps)
    finally:
        agent.terminate()
        agent.wait()
    rows = []
    for client, r in (("raw client", raw), ("ncclient", nc)):
        x = statistics.median(r["get"]) / statistics.median(r["get_config"])
        rows.append((f"{client}: get-config <memif/>", ms(r["get_config"]), "1.00x", ""))
        rows.append((f"{client}: get <memif/> with live state", ms(r["get"]), f"{x:.2f}x", "≤ 3x"))
    print(
        f"run of {started}, {args.reps} turns; replies {raw['get_size'][-1]:,} B (get) and "
        f"{raw['gc_size'][-1]:,} B (get-config)"
    )
    print_table(
        ("1,000 interfaces, 100 sockets (min / median)", "time", "ratio to get-config", "target"),
        rows,
        args.markdown,
    )


if __name__ == "__main__":
    main()
