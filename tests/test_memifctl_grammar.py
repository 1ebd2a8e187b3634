"""memifctl's command language: parsing, errors and completion (pure)."""

import pytest

from tools.memifctl.errors import UsageError
from tools.memifctl.grammar import Command, completions, parse


@pytest.mark.parametrize(
    ("line", "memif", "expected"),
    [
        (
            "interface memif socket 23 filename /tmp/m.sock",
            False,
            Command("set-socket", {"socket-id": "23", "filename": "/tmp/m.sock"}),
        ),
        (
            "interface memif socket 23 interface 100",
            False,
            Command("enter-memif", {"socket-id": "23", "id": "100"}),
        ),
        ("no interface memif socket 23", False, Command("delete-socket", {"socket-id": "23"})),
        (
            "no interface memif socket 23 interface 7",
            False,
            Command("delete-interface", {"socket-id": "23", "id": "7"}),
        ),
        (
            "role client rx-queues 2 tx-queues 4",
            True,
            Command("set-role", {"role": "client", "rx-queues": "2", "tx-queues": "4"}),
        ),
        ("role server", True, Command("set-role", {"role": "server"})),
        ("ring-size 12", True, Command("set-leaf", {"ring-size": "12"})),
        (
            "mac-address 02:fe:00:00:00:01",
            True,
            Command("set-leaf", {"mac-address": "02:fe:00:00:00:01"}),
        ),
        ("enable", True, Command("set-leaf", {"enabled": "true"})),
        ("disable", True, Command("set-leaf", {"enabled": "false"})),
        ("no secret", True, Command("remove-leaf", {"leaf": "secret"})),
        ("exit", True, Command("exit-memif")),
        ("exit", False, Command("exit")),
        ("commit", True, Command("commit")),
        ("show interface memif detail", False, Command("show-memif", {"view": "detail"})),
        ("show configuration running", False, Command("show-config", {"source": "running"})),
        ("   ", False, None),
    ],
)
def test_parse(line, memif, expected) -> None:
    assert parse(line, memif) == expected


@pytest.mark.parametrize(
    ("line", "memif", "message"),
    [
        ("interface memif socket x filename /a", False, "socket-id must be a number"),
        ("interface memif socket 4294967295 filename /a", False, "from 0 to 4294967294"),
        ("interface memif socket 1", False, "incomplete command"),
        ("interface memif socket 1 bogus 2", False, "expected 'filename' or 'interface'"),
        ("ring-size 7", True, "from 8 to 32"),
        ("role client rx-queues 0", True, "from 1 to 255"),
        ("mode fancy", True, "ethernet | ip | punt-inject"),
        ("ring-size 10", False, "unknown command"),
        ("show interface memif everything", False, "usage: show interface memif"),
    ],
)
def test_parse_errors(line, memif, message) -> None:
    with pytest.raises(UsageError) as exc:
        parse(line, memif)
    assert message in str(exc.value)


def test_completion() -> None:
    assert [w for w, _ in completions("int")] == ["interface"]
    assert [w for w, _ in completions("interface memif socket 3 ")] == ["filename", "interface"]
    assert [w for w, _ in completions("role ", True)] == ["server", "client"]
    assert [w for w, _ in completions("role client rx-queues 2 ", True)] == ["tx-queues"]
    assert "ring-size" in [w for w, _ in completions("", True)]
    assert "ring-size" not in [w for w, _ in completions("", False)]
    assert [w for w, _ in completions("show interface memif ")] == ["detail", "counters"]
