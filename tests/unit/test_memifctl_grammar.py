"""memifctl's command language: modes, quoting, parsing, errors and completion (pure)."""

import pytest
from memifctl.errors import UsageError
from memifctl.grammar import (
    CONFIG,
    CONFIG_HELP,
    EXEC,
    EXEC_HELP,
    MEMIF,
    MEMIF_HELP,
    Command,
    completions,
    parse,
    split_commands,
)


@pytest.mark.parametrize(
    ("line", "mode", "expected"),
    [
        (
            "interface memif socket 23 filename /tmp/m.sock",
            CONFIG,
            Command("set-socket", {"socket-id": "23", "filename": "/tmp/m.sock"}),
        ),
        (
            "interface memif socket 23 filename '/tmp/a b;c.sock'",
            CONFIG,
            Command("set-socket", {"socket-id": "23", "filename": "/tmp/a b;c.sock"}),
        ),
        (
            "interface memif socket 23 interface 100",
            CONFIG,
            Command("enter-memif", {"socket-id": "23", "id": "100"}),
        ),
        ("no interface memif socket 23", CONFIG, Command("delete-socket", {"socket-id": "23"})),
        (
            "no interface memif socket 23 interface 7",
            MEMIF,
            Command("delete-interface", {"socket-id": "23", "id": "7"}),
        ),
        (
            "role client rx-queues 2 tx-queues 4",
            MEMIF,
            Command("set-role", {"role": "client", "rx-queues": "2", "tx-queues": "4"}),
        ),
        ("role server", MEMIF, Command("set-role", {"role": "server"})),
        ("ring-size 12", MEMIF, Command("set-leaf", {"ring-size": "12"})),
        (
            "mac-address 02:fe:00:00:00:01",
            MEMIF,
            Command("set-leaf", {"mac-address": "02:fe:00:00:00:01"}),
        ),
        ('secret "abc def"', MEMIF, Command("set-leaf", {"secret": "abc def"})),
        ("secret 'it\"s'", MEMIF, Command("set-leaf", {"secret": 'it"s'})),
        (r"secret a\ b", MEMIF, Command("set-leaf", {"secret": "a b"})),
        ("enable", MEMIF, Command("set-leaf", {"enabled": "true"})),
        ("disable", MEMIF, Command("set-leaf", {"enabled": "false"})),
        ("no secret", MEMIF, Command("remove-leaf", {"leaf": "secret"})),
        ("configure", EXEC, Command("configure")),
        ("configure terminal", EXEC, Command("configure")),
        ("exit", MEMIF, Command("exit")),
        ("exit", CONFIG, Command("exit")),
        ("exit", EXEC, Command("exit")),
        ("end", MEMIF, Command("end")),
        ("commit", MEMIF, Command("commit")),
        ("commit", CONFIG, Command("commit")),
        ("show interface memif detail", EXEC, Command("show-memif", {"view": "detail"})),
        ("show interface memif", MEMIF, Command("show-memif", {"view": "brief"})),
        ("show configuration running", CONFIG, Command("show-config", {"source": "running"})),
        ("   ", EXEC, None),
    ],
)
def test_parse(line, mode, expected) -> None:
    assert parse(line, mode) == expected


@pytest.mark.parametrize(
    ("line", "mode", "message"),
    [
        ("interface memif socket x filename /a", CONFIG, "socket-id must be a number"),
        ("interface memif socket 4294967295 filename /a", CONFIG, "from 0 to 4294967294"),
        ("interface memif socket ١ filename /a", CONFIG, "socket-id must be a number"),
        ("interface memif socket 1", CONFIG, "incomplete command"),
        ("interface memif socket 1 bogus 2", CONFIG, "expected 'filename' or 'interface'"),
        ("interface memif socket 1 filename /a b", CONFIG, "quote a path with spaces"),
        ("interface memif socket 1 filename '/a\x01'", CONFIG, "must be printable"),
        ("secret 'abc", MEMIF, "no closing quotation"),
        ("secret abc\\", MEMIF, "ends in a backslash"),
        ("secret abc def", MEMIF, "usage: secret"),
        ("secret ''", MEMIF, "must be printable"),
        ("ring-size 7", MEMIF, "from 8 to 32"),
        ("role client rx-queues 0", MEMIF, "from 1 to 255"),
        ("mode fancy", MEMIF, "ethernet | ip | punt-inject"),
        ("ring-size 10", CONFIG, "is an interface setting"),
        ("interface memif socket 1 filename /a", EXEC, "enter 'configure' first"),
        ("commit", EXEC, "enter 'configure' first"),
        ("configure private", EXEC, "usage: configure [terminal]"),
        ("bogus", EXEC, "unknown command"),
        ("show interface memif everything", EXEC, "usage: show interface memif"),
        ("show a; show b", EXEC, "one command expected"),
    ],
)
def test_parse_errors(line, mode, message) -> None:
    with pytest.raises(UsageError) as exc:
        parse(line, mode)
    assert message in str(exc.value)


def test_implicit_configure_for_scripts() -> None:
    assert parse("commit", EXEC, implicit_config=True) == Command("commit")
    assert parse("interface memif socket 2 interface 1", EXEC, implicit_config=True).edits


def test_split_commands() -> None:
    assert split_commands("a \"b;c\" d; e;;f ';'") == [["a", "b;c", "d"], ["e"], ["f", ";"]]
    assert split_commands('x "" y') == [["x", "", "y"]]
    assert split_commands(r'q "a\"b\\c"') == [["q", 'a"b\\c']]


def test_completion() -> None:
    assert [w for w, _ in completions("int", CONFIG)] == ["interface"]
    assert [w for w, _ in completions("interface memif socket 3 ", CONFIG)] == [
        "filename",
        "interface",
    ]
    assert [w for w, _ in completions("role ", MEMIF)] == ["server", "client"]
    assert [w for w, _ in completions("role client rx-queues 2 ", MEMIF)] == ["tx-queues"]
    assert [w for w, _ in completions("conf", EXEC)] == ["configure"]
    assert [w for w, _ in completions("configure ", EXEC)] == ["terminal"]
    assert [w for w, _ in completions("show interface memif ", EXEC)] == ["detail", "counters"]
    assert [w for w, _ in completions("secret 'ab", MEMIF)] == []  # open quote: no crash
    assert [w for w, _ in completions("show a; sh", EXEC)] == ["show"]


def test_help_lists_exactly_what_each_mode_accepts() -> None:
    """Every word the help offers parses in that mode (given its arguments), and
    every word the parser accepts alone is in the help."""
    for mode, table in ((EXEC, EXEC_HELP), (CONFIG, CONFIG_HELP), (MEMIF, MEMIF_HELP)):
        assert [w for w, _ in completions("", mode)] == sorted(table)
        for word in table:
            try:
                parse(word, mode)
            except UsageError as e:
                # a word that needs arguments says how to use it, never "unknown"
                assert "unknown command" not in str(e) and "configure' first" not in str(e), (
                    mode,
                    word,
                    e,
                )
    assert "ring-size" in MEMIF_HELP and "ring-size" not in CONFIG_HELP
    assert "commit" not in EXEC_HELP and "configure" in EXEC_HELP


def test_help_command() -> None:
    for mode in (EXEC, CONFIG, MEMIF):
        assert parse("help", mode) == Command("help")
        assert parse("?", mode) == Command("help")
    from memifctl.grammar import help_lines

    text = help_lines("", MEMIF)
    assert "  ring-size        <8-32> ring size as log2 of entries" in text.splitlines()
