"""The agent's own CPU time for the NETCONF benchmark's rows, in-process (no
SSH, no client), optionally under cProfile: where the time goes.

    .venv/bin/python tools/bench/inprocess.py [--profile bulk|small] [--runs 5]
    .venv/bin/python tools/bench/inprocess.py --rpc [--profile rpc]

--rpc: the whole agent (every feature module, no dataplane) taking the small
get-config of tools/bench/netconf.py as the transport hands it over: framed
bytes into Session.receive, Server.dispatch, the framed reply; CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from agent.datastore.store import Datastores  # noqa: E402
from agent.yangdata.schema import shared_context  # noqa: E402
from tools.bench.netconf import interfaces, small_edit  # noqa: E402

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"


def config_of(edit_rpc: bytes) -> etree._Element:
    rpc = etree.fromstring(b'<rpc xmlns="%s">%s</rpc>' % (NC_NS.encode(), edit_rpc))
    return rpc.find(f"{{{NC_NS}}}edit-config/{{{NC_NS}}}config")


def wrap(config: bytes) -> etree._Element:
    return etree.fromstring(b'<config xmlns="%s">%s</config>' % (NC_NS.encode(), config))


async def bulk(ds: Datastores, n: int) -> tuple[float, float]:
    await ds.edit(
        "candidate",
        wrap(b'<memif xmlns="urn:memif-agent:yang:memif-agent"/>'),
        1,
        default_operation="replace",
    )
    await ds.commit(1)
    cfg = wrap(interfaces(n))
    t = time.process_time()
    await ds.edit("candidate", cfg, 1)
    t1 = time.process_time()
    await ds.commit(1)
    return t1 - t, time.process_time() - t1


async def small(ds: Datastores, i: int) -> float:
    cfg = config_of(small_edit(i))
    t = time.process_time()
    await ds.edit("candidate", cfg, 1)
    await ds.commit(1)
    return time.process_time() - t


async def main_async(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-inproc-"))
    ds = Datastores(shared_context(), work)
    prof = cProfile.Profile() if args.profile else None
    for n in (1000, 10_000):
        edits, commits = [], []
        for _ in range(args.runs):
            if prof is not None and args.profile == "bulk":
                prof.enable()
            e, c = await bulk(ds, n)
            if prof is not None:
                prof.disable()
            edits.append(e)
            commits.append(c)
        print(
            f"{n} entries: edit-config min {min(edits) * 1e3:.1f} median "
            f"{statistics.median(edits) * 1e3:.1f} ms CPU, commit min {min(commits) * 1e3:.1f} "
            f"median {statistics.median(commits) * 1e3:.1f} ms CPU"
        )
    await bulk(ds, 1000)
    ts = []
    for i in range(args.runs * 20):
        if prof is not None and args.profile == "small":
            prof.enable()
        ts.append(await small(ds, i))
        if prof is not None:
            prof.disable()
    print(
        f"small edit + commit: min {min(ts) * 1e3:.2f} "
        f"median {statistics.median(ts) * 1e3:.2f} ms CPU"
    )
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)


async def rpc_cost(args: argparse.Namespace) -> None:
    from agent.app import build_server
    from agent.main import parse_args, prepare_state
    from tools.bench.netconf import SMALL_GET, edit

    work = Path(tempfile.mkdtemp(prefix="bench-inproc-"))
    opts = parse_args(["--no-dataplane", "--state-dir", str(work / "state")])
    prepare_state(opts)
    server = build_server(opts)
    await server.startup()
    session = server.new_session("admin")
    session.receive(
        b'<hello xmlns="%s"><capabilities><capability>urn:ietf:params:netconf:base:1.1'
        b"</capability></capabilities></hello>]]>]]>" % NC_NS.encode()
    )

    async def rpc(body: bytes, mid: int) -> bytes:
        msg = b'<rpc xmlns="%s" message-id="%d">%s</rpc>' % (NC_NS.encode(), mid, body)
        (request,) = session.receive(b"\n#%d\n%s\n##\n" % (len(msg), msg))
        out = server.dispatch(session, request)
        return await out if hasattr(out, "__await__") else out

    for i, body in enumerate((edit(interfaces(10, sockets=10)), b"<commit/>")):
        assert b"rpc-error" not in await rpc(body, i)
    prof = cProfile.Profile() if args.profile == "rpc" else None
    n = 2000
    per = []
    for _ in range(args.runs):
        if prof is not None:
            prof.enable()
        t = time.process_time()
        for i in range(n):
            await rpc(SMALL_GET, i)
        per.append((time.process_time() - t) / n)
        if prof is not None:
            prof.disable()
    print(
        f"small get-config in-process: min {min(per) * 1e6:.0f} "
        f"median {statistics.median(per) * 1e6:.0f} µs CPU per request"
    )
    await server.shutdown()
    if prof is not None:
        pstats.Stats(prof).sort_stats("tottime").print_stats(25)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", choices=("bulk", "small", "rpc"))
    ap.add_argument("--rpc", action="store_true", help="CPU per small get-config, whole agent")
    args = ap.parse_args()
    asyncio.run(rpc_cost(args) if args.rpc else main_async(args))


if __name__ == "__main__":
    main()
