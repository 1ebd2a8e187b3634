"""Big edits in the request worker (agent/datastore/worker.py) stay atomic and in order:
what another session did to the datastore while one was computed in the worker
is never lost nor half-seen (issue 12: big legitimate requests off the loop).

In process, on agent.datastore.Datastores with the real worker thread; the
same requests over SSH are in tests/e2e/test_limits_transport.py."""

from __future__ import annotations

import asyncio
import threading

import pytest
from lxml import etree

from agent.datastore.store import Datastores
from agent.datastore.worker import Worker
from agent.errors import RpcError, RpcErrors
from agent.yangdata.schema import shared_context

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
N = 3000


def config(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}"><memif xmlns="{NS}">{body}</memif></config>')


def interfaces(n: int, ring: int) -> str:
    return "".join(
        f"<interface><socket-id>1</socket-id><id>{i}</id><ring-size>{ring}</ring-size></interface>"
        for i in range(1, n + 1)
    )


SOCKET = "<socket><id>1</id><filename>/tmp/worker-test-1.sock</filename></socket>"


class SlowWorker(Worker):
    """The real worker, holding each job until `release` is set, so the loop
    can change the datastore while a big edit is being computed."""

    def __init__(self) -> None:
        super().__init__()
        self.started = threading.Event()
        self.release = threading.Event()
        self.jobs = 0

    async def run(self, fn, *args):
        def held():
            self.jobs += 1
            self.started.set()
            assert self.release.wait(30)
            return fn(*args)

        return await super().run(held)


async def make(tmp_path) -> Datastores:
    """Datastores on the slow worker, running holding N interfaces (ring 10);
    built inside the test's event loop (its commit lock belongs to that loop)."""
    worker = SlowWorker()
    ds = Datastores(shared_context(), tmp_path, worker=worker)
    worker.release.set()
    await ds.edit("running", config(SOCKET + interfaces(N, 10)), 1)
    hold(ds)
    return ds


def hold(ds: Datastores) -> None:
    """From now on the worker holds each job until released."""
    ds.worker.release.clear()
    ds.worker.started.clear()


def run(tmp_path, test) -> Datastores:
    """test(ds) in one event loop; returns the datastores for the checks after."""

    async def go():
        ds = await make(tmp_path)
        try:
            await test(ds)
        finally:
            ds.worker.release.set()
            await ds.worker.close()
        return ds

    return asyncio.run(asyncio.wait_for(go(), 60))


def rings(tree: etree._Element) -> set[str]:
    return {e.text for e in tree.iter(f"{{{NS}}}ring-size")}


async def _while_computed(ds: Datastores, edit, change) -> None:
    """Runs `edit` (a coroutine) until the worker holds it, then `change()` on
    the loop, then lets the worker go; returns the edit's result."""
    worker = ds.worker
    task = asyncio.ensure_future(edit)
    while not worker.started.is_set():
        await asyncio.sleep(0.001)
    change()
    worker.release.set()
    return await task


def test_big_edit_is_computed_in_the_worker(tmp_path) -> None:
    async def test(ds):
        jobs = ds.worker.jobs
        ds.worker.release.set()
        await ds.edit("candidate", config(interfaces(N, 11)), 1)
        assert ds.worker.jobs > jobs

    ds = run(tmp_path, test)
    assert rings(ds.candidate) == {"11"}
    assert rings(ds.running) == {"10"}


def test_discard_during_a_big_candidate_edit_is_not_lost(tmp_path) -> None:
    """Serial order: small edit, discard-changes, big edit. Computed from the
    candidate of before the discard, the big edit would bring the small one
    back; it is computed again on the candidate the discard left."""

    extra = f"<interface><socket-id>1</socket-id><id>{N + 1}</id></interface>"

    async def test(ds):
        ds.worker.release.set()
        await ds.edit("candidate", config(extra), 1)
        hold(ds)
        assert ds.candidate_dirty
        await _while_computed(ds, ds.edit("candidate", config(interfaces(N, 12)), 2), ds.discard)

    ds = run(tmp_path, test)
    assert rings(ds.candidate) == {"12"}
    ids = {e.text for e in ds.candidate.iter(f"{{{NS}}}id")}
    assert str(N + 1) not in ids, "the discarded edit came back"
    assert ds.worker.jobs >= 3  # the small edit, the big one and its second computation


def test_lock_taken_during_a_big_running_edit_refuses_it(tmp_path) -> None:
    """Serial order: another session locks running, then the edit comes: in-use,
    and running (in memory and on disk) is unchanged."""
    seen = {}

    async def test(ds):
        seen["running"] = ds.running
        seen["disk"] = (ds.state_dir / "running.xml").read_bytes()
        with pytest.raises(RpcError) as e:
            await _while_computed(
                ds,
                ds.edit("running", config(interfaces(N, 13)), 1),
                lambda: ds.lock("running", 2),
            )
        assert e.value.tag == "in-use"

    ds = run(tmp_path, test)
    assert ds.running is seen["running"] and rings(ds.running) == {"10"}
    assert (ds.state_dir / "running.xml").read_bytes() == seen["disk"]


def test_commit_during_a_big_candidate_edit(tmp_path) -> None:
    """A commit while a big candidate edit is computed: the commit takes the
    candidate as it was, the edit lands on top of it and stays pending (as if
    the commit had come first)."""

    async def test(ds):
        ds.worker.release.set()
        await ds.edit("candidate", config(interfaces(5, 9)), 1)
        hold(ds)
        commits = []
        await _while_computed(
            ds,
            ds.edit("candidate", config(interfaces(N, 14)), 2),
            lambda: commits.append(asyncio.ensure_future(ds.commit(1))),
        )
        await commits[0]

    ds = run(tmp_path, test)
    assert rings(ds.running) == {"9", "10"}
    assert rings(ds.candidate) == {"14"}
    assert ds.candidate_dirty


def test_failing_big_edit_changes_nothing(tmp_path) -> None:
    bad = interfaces(N, 15) + "<interface><socket-id>1</socket-id><id>x</id></interface>"

    async def test(ds):
        before = ds.candidate
        ds.worker.release.set()
        with pytest.raises(RpcErrors) as e:
            await ds.edit("candidate", config(bad), 1)
        assert [err.tag for err in e.value.errors] == ["invalid-value"]
        assert ds.candidate is before and not ds.candidate_dirty

    run(tmp_path, test)
