"""One <get> reads the dataplane's state once: the memif and ietf-interfaces
trees come from one snapshot, with a real dataplane process behind them."""

from __future__ import annotations

import asyncio

from agent.app import build_server
from agent.main import parse_args, prepare_state

MEMIF = "{urn:memif-agent:yang:memif-agent}memif"
INTERFACES = "{urn:ietf:params:xml:ns:yang:ietf-interfaces}interfaces"


def test_unfiltered_get_takes_one_dataplane_snapshot(tmp_path) -> None:
    opts = parse_args(
        ["--state-dir", str(tmp_path / "state"), "--socket0", str(tmp_path / "memif.sock")]
    )
    prepare_state(opts)

    async def run() -> None:
        server = build_server(opts)
        await server.startup()
        try:
            dp = server.dataplane.dp  # the real remote dataplane process
            assert dp is not None
            reads = []
            real_state = dp.state

            async def counted_state(*args, **kwargs):
                reads.append(1)
                return await real_state(*args, **kwargs)

            dp.state = counted_state
            for n in (1, 2):
                tags = [node.tag for node in await server.collect_state()]
                assert MEMIF in tags and INTERFACES in tags
                assert len(reads) == n
                # A later <get> (a later step of the loop) reads anew.
                await asyncio.sleep(0)
        finally:
            await server.shutdown()

    asyncio.run(run())
