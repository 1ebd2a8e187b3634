"""The diff from one memif configuration to another, as ordered dataplane steps,
and the transaction that undoes everything when a step fails."""

from __future__ import annotations

import asyncio

import pytest

from agent.errors import RpcError
from agent.memif.config import Interface, MemifConfig
from agent.memif.mac import MacStore
from agent.memif.plan import plan
from agent.memif.txn import Transaction


def cfg(sockets: dict[int, str], *itfs: Interface) -> MemifConfig:
    return MemifConfig(dict(sockets), {i.key: i for i in itfs})


def kinds(steps) -> list[tuple]:
    return [(s.kind, s.socket_id, s.if_id) for s in steps]


def test_create_from_nothing_sockets_first() -> None:
    new = cfg({1: "/a"}, Interface(1, 1, enabled=True), Interface(0, 2))
    assert kinds(plan(MemifConfig(), new)) == [
        ("add_socket", 1, None),
        ("add_interface", 0, 2),
        ("add_interface", 1, 1),
    ]


def test_delete_interfaces_before_sockets() -> None:
    old = cfg({1: "/a"}, Interface(1, 1))
    assert kinds(plan(old, MemifConfig())) == [
        ("remove_interface", 1, 1),
        ("remove_socket", 1, None),
    ]


def test_parameter_change_recreates_enabled_only_toggles() -> None:
    old = cfg({1: "/a"}, Interface(1, 1), Interface(1, 2))
    new = cfg({1: "/a"}, Interface(1, 1, ring_size=12), Interface(1, 2, enabled=True))
    assert kinds(plan(old, new)) == [
        ("remove_interface", 1, 1),
        ("add_interface", 1, 1),
        ("set_enabled", 1, 2),
    ]
    assert plan(new, new) == []


def test_socket_filename_change_moves_socket() -> None:
    assert kinds(plan(cfg({1: "/a"}), cfg({1: "/b"}))) == [
        ("remove_socket", 1, None),
        ("add_socket", 1, None),
    ]


def test_xconnect_pairs_made_and_undone_once() -> None:
    a, b = Interface(1, 1, xconnect="memif1/2"), Interface(1, 2, xconnect="memif1/1")
    new = cfg({1: "/a"}, a, b)
    steps = plan(cfg({1: "/a"}, Interface(1, 1), Interface(1, 2)), new)
    assert kinds(steps) == [("set_xconnect", 1, 1)] and steps[0].peer == (1, 2)
    steps = plan(new, cfg({1: "/a"}, Interface(1, 1), Interface(1, 2)))
    assert kinds(steps) == [("set_xconnect", 1, 1)] and steps[0].peer is None


class FakeDataplane:
    """Runs batches of calls as RemoteDataplane.batch does, recording them; fails
    on one chosen call. Only for the pure transaction logic: the real dataplane
    (in its process) is exercised in the end-to-end tests."""

    def __init__(self, fail_on: str) -> None:
        self.fail_on = fail_on
        self.calls: list[tuple] = []

    async def batch(self, calls, stop_on_error: bool = True):
        out = []
        for name, args, _kw in calls:
            if name == self.fail_on and tuple(args[:2]) == (1, 2):
                out.append(OSError("address in use"))
                if stop_on_error:
                    break
                continue
            self.calls.append((name, *args[:2]))
            out.append(None)
        return out


def test_failed_step_undoes_the_others(tmp_path) -> None:
    dp = FakeDataplane("add_interface")
    old = cfg({1: "/a"}, Interface(1, 1))
    new = cfg({1: "/a", 2: "/b"}, Interface(1, 2), Interface(2, 1))
    with pytest.raises(RpcError) as exc:
        asyncio.run(Transaction(dp, MacStore(tmp_path / "macs.json")).run(old, new))
    assert exc.value.tag == "operation-failed"
    assert exc.value.message == "memif1/2: address in use"
    assert exc.value.path == "/memif:memif/memif:interface[memif:socket-id='1'][memif:id='2']"
    assert dp.calls == [
        ("remove_interface", 1, 1),
        ("add_socket", 2, "/b"),
        ("remove_socket", 2),
        ("add_interface", 1, 1),
    ]


def test_generated_mac_is_stable(tmp_path) -> None:
    m = MacStore(tmp_path / "macs.json")
    mac = m.get(1, 1)
    assert mac.startswith("02:fe:") and len(mac) == 17
    m.save()
    assert MacStore(tmp_path / "macs.json").get(1, 1) == mac
    assert m.get(1, 2) != mac
