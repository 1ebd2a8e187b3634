"""The request worker: one thread for the self-contained heavy part of big
requests (an edit of thousands of entries, a <get> of a big datastore and its
serialisation, NACM walks over them, validation), so that the event loop keeps
serving every other session meanwhile.

The work handed over is pure computation on trees nobody changes in place
(datastore trees are replaced, never edited where they stand): the caller
takes a snapshot on the loop, the worker builds a new tree or the reply bytes
from it, and the caller swaps the result in on the loop, where it can check
that nothing it read has changed meanwhile. The edit engine, the NACM walks
and the typed views are Python, which gives the GIL back to the loop every
switch interval (5 ms); lxml serialises and libyang validates without holding
it at all.

One thread, not a pool: big requests queue behind each other (so a client
sending them back to back gets one at a time, and memory holds one such
request's copies), while small requests never enter the queue.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from lxml import etree

T = TypeVar("T")

# List entries (nodes one level below the top-level containers) from which a
# tree is big: at 1,000 entries an edit or a full read costs ~10-50 ms of loop
# time here, at 10,000 more than 0.5 s.
BIG_ENTRIES = 1000


def entries(tree: etree._Element | None) -> int:
    """Nodes on the first two levels below `tree` (a <config> or <data>
    wrapper): its top-level containers and what they hold. Counted in C, one
    call per top-level node."""
    if tree is None:
        return 0
    return len(tree) + sum(len(top) for top in tree)


class Worker:
    def __init__(self, big_entries: int = BIG_ENTRIES) -> None:
        self.big_entries = big_entries
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="request-worker")

    def big(self, *trees: etree._Element | None) -> bool:
        """Whether work on these trees together belongs in the worker."""
        total = 0
        for tree in trees:
            total += entries(tree)
            if total >= self.big_entries:
                return True
        return False

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """fn(*args) in the worker thread; its exception is raised here."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args))

    async def close(self) -> None:
        """Lets queued work go (its results are not awaited any more)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


# How long a thread holding the GIL keeps it once another asks (Python's default
# is 5 ms). The loop asks for it after every wait for I/O, several times per
# request: behind a busy worker each ask cost up to 5 ms. In two A/B runs of the
# four big kinds of tools/bench/stall.py (load average 6 on 2 cores) the
# bystander's p99 was 53-84 ms at 5 ms and 29-65 ms at 1 ms (one outlier 159 ms).
SWITCH_INTERVAL = 0.001


async def share_the_interpreter() -> None:
    """Start-up hook: let the loop take the GIL back quickly from the worker
    (SWITCH_INTERVAL), and leave what exists at start (schema, modules, options:
    ~50,000 objects) out of every later garbage collection. A full collection
    holds the GIL from start to end, wherever it runs; in the worker, after a
    big edit's allocations, one took 50-125 ms with these objects and 8-24 ms
    without, and the loop waited for each."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    gc.freeze()
