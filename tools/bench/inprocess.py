"""The agent's own CPU time for the NETCONF benchmark's rows, in-process (no
SSH, no client), optionally under cProfile: where the time goes.

    .venv/bin/python tools/bench/inprocess.py [--profile bulk|small|get] [--runs 5]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--profile", choices=("bulk", "small"))
    asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    main()
