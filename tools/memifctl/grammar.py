"""memifctl's command language, TNSR style: tokens, modes, parsing and completion; no I/O.

Modes and what each accepts:
  exec          configure [terminal] | show ... | monitor | exit
  config        interface memif socket <socket-id> filename <path>
                interface memif socket <socket-id> interface <if-id>   (enters config-memif)
                no interface memif socket <socket-id> [interface <if-id>]
                commit | discard | show ... | end | exit
  config-memif  buffer-size <n> | mac-address <mac> | mode ethernet|ip|punt-inject
                ring-size <log2> | role server | role client [rx-queues <n>] [tx-queues <n>]
                secret <s> | xconnect <memifS/I> | enable | disable | no <leaf>
                (and everything config mode accepts) | end | exit
show: show interface memif [detail|counters] | show configuration candidate|running

`exit` goes up one level (at exec it leaves memifctl), `end` goes back to exec,
`help` (or `?`) lists what the current mode accepts.
Values are shell-quoted words: `secret "abc def"`, `filename '/tmp/a b.sock'`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from memifctl.errors import UsageError

EXEC, CONFIG, MEMIF = "exec", "config", "config-memif"

MEMIF_LEAVES = {
    "buffer-size": "<64-65535> buffer size in bytes",
    "mac-address": "<xx:xx:xx:xx:xx:xx> MAC address (ethernet mode)",
    "mode": "ethernet | ip | punt-inject",
    "ring-size": "<8-32> ring size as log2 of entries",
    "role": "server | client [rx-queues <n>] [tx-queues <n>]",
    "secret": "<1-23 printable characters> shared secret (quote it if it has spaces)",
    "xconnect": "<memifS/I> patch frames to another memif interface",
}
SHOW_HELP = "show interface memif [detail|counters] | show configuration candidate|running"
EXEC_HELP = {
    "configure": "configure [terminal]: enter configuration mode",
    "show": SHOW_HELP,
    "monitor": "print link events as they happen",
    "help": "list the commands of this mode (also '?')",
    "exit": "leave memifctl",
}
CONFIG_HELP = {
    "interface": "interface memif socket <id> filename <path> | ... interface <if-id>",
    "no": "delete: no interface memif socket <id> [interface <if-id>]",
    "commit": "commit this session's changes (lock, edit, commit, unlock)",
    "discard": "drop this session's uncommitted changes",
    "show": SHOW_HELP,
    "help": EXEC_HELP["help"],
    "end": "back to exec mode",
    "exit": "back to exec mode",
}
MEMIF_HELP = {
    **MEMIF_LEAVES,
    "enable": "set the interface administratively up",
    "disable": "set the interface administratively down",
    "no": "no <leaf>: remove a setting",
    "commit": CONFIG_HELP["commit"],
    "discard": CONFIG_HELP["discard"],
    "show": SHOW_HELP,
    "help": EXEC_HELP["help"],
    "end": "back to exec mode",
    "exit": "back to config mode",
}
MODE_HELP = {EXEC: EXEC_HELP, CONFIG: CONFIG_HELP, MEMIF: MEMIF_HELP}
CONFIG_WORDS = ("interface", "no", "commit", "discard")


@dataclass(frozen=True)
class Command:
    """A parsed command: `action` plus arguments."""

    action: str
    args: dict[str, str] = field(default_factory=dict)

    @property
    def edits(self) -> bool:
        """True for a command that changes the configuration."""
        return self.action in EDIT_ACTIONS


EDIT_ACTIONS = frozenset(
    ("set-socket", "delete-socket", "enter-memif", "delete-interface", "set-leaf")
    + ("remove-leaf", "set-role")
)


def split_commands(line: str) -> list[list[str]]:
    """A line as commands of words, with POSIX shell quoting ('...', "...", backslash);
    a ';' outside quotes ends a command."""
    commands: list[list[str]] = [[]]
    word: list[str] = []
    in_word = False  # distinguishes an empty quoted word ("") from no word
    quote = ""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        i += 1
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                word.append(c)
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and i < n and line[i] in '"\\$`':
                word.append(line[i])
                i += 1
            else:
                word.append(c)
        elif c in "'\"":
            quote, in_word = c, True
        elif c == "\\":
            if i == n:
                raise UsageError("cannot split the line: it ends in a backslash")
            word.append(line[i])
            i, in_word = i + 1, True
        elif c.isspace() or c == ";":
            if in_word:
                commands[-1].append("".join(word))
                word, in_word = [], False
            if c == ";":
                commands.append([])
        else:
            word.append(c)
            in_word = True
    if quote:
        raise UsageError(f"cannot split the line: no closing quotation ({quote})")
    if in_word:
        commands[-1].append("".join(word))
    return [c for c in commands if c]


def parse(line: str | list[str], mode: str = EXEC, implicit_config: bool = False) -> Command | None:
    """One command -> Command (None for a blank one). Raises UsageError.

    `implicit_config`: configuration commands are accepted in exec mode too (a
    command line or a script need not say `configure`).
    """
    if isinstance(line, str):
        parts = split_commands(line)
        if len(parts) > 1:
            raise UsageError("one command expected; ';' separates commands")
        words = parts[0] if parts else []
    else:
        words = list(line)
    if not words:
        return None
    head = words[0]
    if head in ("help", "?") and len(words) == 1:
        return Command("help")
    if head in ("exit", "quit") and len(words) == 1:
        return Command("exit")
    if head == "end" and len(words) == 1:
        return Command("end")
    if head == "show":
        return _parse_show(words)
    if mode == MEMIF:
        cmd = _parse_memif(words)
        if cmd is not None:
            return cmd
    if mode == EXEC:
        if head == "configure" and words[1:] in ([], ["terminal"]):
            return Command("configure")
        if head == "configure":
            raise UsageError("usage: configure [terminal]")
        if head == "monitor" and len(words) == 1:
            return Command("monitor")
        if head in CONFIG_WORDS and not implicit_config:
            raise UsageError(f"'{head}' is a configuration command: enter 'configure' first")
        if head not in CONFIG_WORDS:
            raise UsageError(f"unknown command '{' '.join(words)}'; try '?' or 'help'")
    return _parse_config(words, mode)


def _uint(word: str, what: str, lo: int = 0, hi: int = 4294967295) -> str:
    if not (word.isascii() and word.isdigit()) or not lo <= int(word) <= hi:
        raise UsageError(f"{what} must be a number from {lo} to {hi}, not {word!r}")
    return str(int(word))


def _value(word: str, what: str) -> str:
    # Control characters cannot travel in XML 1.0 and are never meant; say so here
    # rather than let the agent answer "malformed message".
    if not word or not word.isprintable():
        raise UsageError(f"{what} must be printable text, not {word!r}")
    return word


def _need(words: list[str], n: int, usage: str) -> None:
    if len(words) < n:
        raise UsageError(f"incomplete command; usage: {usage}")


def _parse_show(w: list[str]) -> Command:
    if w[1:3] == ["interface", "memif"] and len(w) <= 4:
        view = w[3] if len(w) == 4 else "brief"
        if view not in ("brief", "detail", "counters"):
            raise UsageError("usage: show interface memif [detail|counters]")
        return Command("show-memif", {"view": view})
    if len(w) == 3 and w[1] == "configuration" and w[2] in ("candidate", "running"):
        return Command("show-config", {"source": w[2]})
    raise UsageError(f"usage: {SHOW_HELP}")


def _parse_config(w: list[str], mode: str) -> Command:
    head = w[0]
    if head == "interface" or (head == "no" and len(w) > 1 and w[1] == "interface"):
        neg = head == "no"
        rest = w[1:] if neg else w
        usage = "interface memif socket <socket-id> filename <path> | interface <if-id>"
        _need(rest, 4, usage)
        if rest[1] != "memif" or rest[2] != "socket":
            raise UsageError(f"expected 'interface memif socket', got '{' '.join(rest[:3])}'")
        sid = _uint(rest[3], "socket-id", 0, 4294967294)
        tail = rest[4:]
        if neg and not tail:
            return Command("delete-socket", {"socket-id": sid})
        _need(tail, 2, usage)
        if tail[0] == "filename" and not neg:
            if len(tail) != 2:
                raise UsageError(
                    "usage: interface memif socket <socket-id> filename <path>"
                    " (quote a path with spaces)"
                )
            return Command(
                "set-socket", {"socket-id": sid, "filename": _value(tail[1], "filename")}
            )
        if tail[0] == "interface":
            iid = _uint(tail[1], "interface id")
            if len(tail) != 2:
                raise UsageError(f"unexpected '{' '.join(tail[2:])}'")
            return Command(
                "delete-interface" if neg else "enter-memif", {"socket-id": sid, "id": iid}
            )
        raise UsageError(f"expected 'filename' or 'interface' after the socket id, got '{tail[0]}'")
    if head == "no":
        leaves = " | no <setting>" if mode == MEMIF else ""
        raise UsageError(f"usage: no interface memif socket <id> [interface <if-id>]{leaves}")
    if head == "commit" and len(w) == 1:
        return Command("commit")
    if head == "discard" and len(w) == 1:
        return Command("discard")
    if head in MEMIF_LEAVES or head in ("enable", "disable"):
        raise UsageError(
            f"'{head}' is an interface setting: enter"
            " 'interface memif socket <id> interface <if-id>' first"
        )
    raise UsageError(f"unknown command '{' '.join(w)}'; try '?' or 'help'")


def _parse_memif(w: list[str]) -> Command | None:
    head = w[0]
    if head in ("enable", "disable") and len(w) == 1:
        return Command("set-leaf", {"enabled": "true" if head == "enable" else "false"})
    if head == "no" and len(w) == 2 and w[1] in (*MEMIF_LEAVES, "enable"):
        leaf = "enabled" if w[1] == "enable" else w[1]
        return Command("remove-leaf", {"leaf": leaf})
    if head == "role":
        _need(w, 2, MEMIF_LEAVES["role"])
        if w[1] == "server" and len(w) == 2:
            return Command("set-role", {"role": "server"})
        if w[1] == "client":
            args = {"role": "client"}
            rest = w[2:]
            while rest:
                if rest[0] not in ("rx-queues", "tx-queues") or len(rest) < 2:
                    raise UsageError("usage: role client [rx-queues <n>] [tx-queues <n>]")
                args[rest[0]] = _uint(rest[1], rest[0], 1, 255)
                rest = rest[2:]
            return Command("set-role", args)
        raise UsageError("usage: role server | role client [rx-queues <n>] [tx-queues <n>]")
    if head in MEMIF_LEAVES:
        if len(w) != 2:
            raise UsageError(f"usage: {head} {MEMIF_LEAVES[head]}")
        value = _value(w[1], head)
        if head == "mode" and value not in ("ethernet", "ip", "punt-inject"):
            raise UsageError("usage: mode ethernet | ip | punt-inject")
        if head == "buffer-size":
            value = _uint(value, head, 64, 65535)
        if head == "ring-size":
            value = _uint(value, head, 8, 32)
        return Command("set-leaf", {head: value})
    return None


def help_lines(line: str, mode: str) -> str:
    """What may follow `line` in `mode`, one "word  help" per line (`?` and `help`)."""
    options = completions(line, mode)
    if not options:
        return "  (no further words: press Enter)"
    return "\n".join(f"  {w:<16} {h}" for w, h in options)


def _tolerant_words(line: str) -> list[str]:
    try:
        parts = split_commands(line)
    except UsageError:  # an open quote while typing: complete on plain words
        return line.split()
    return parts[-1] if parts and not line.rstrip().endswith(";") else []


def completions(line: str, mode: str = EXEC) -> list[tuple[str, str]]:
    """(word, help) pairs that may follow `line`; a trailing space means a new word."""
    words = _tolerant_words(line)
    if line and not line.endswith((" ", ";")) and words:
        words, partial = words[:-1], words[-1]
    else:
        partial = ""
    options = _next_words(words, mode)
    return [(o, h) for o, h in options if o.startswith(partial)]


def _next_words(w: list[str], mode: str) -> list[tuple[str, str]]:
    if not w:
        return sorted(MODE_HELP[mode].items())
    if w[0] == "show":
        if len(w) == 1:
            return [("interface", "interface state"), ("configuration", "datastore contents")]
        if w[1:] == ["interface"]:
            return [("memif", "memif interfaces")]
        if w[1:] == ["interface", "memif"]:
            return [("detail", "remote names, reasons, queues"), ("counters", "packet counters")]
        if w[1:] == ["configuration"]:
            return [("candidate", "uncommitted"), ("running", "in effect")]
        return []
    if mode == EXEC:
        if w == ["configure"]:
            return [("terminal", "configure from this terminal")]
        return []
    if w == ["no"] and mode == MEMIF:
        return sorted((k, f"remove {k}") for k in MEMIF_LEAVES) + [
            ("enable", "disable"),
            ("interface", "delete an interface or socket"),
        ]
    if w[0] == "no":
        w = w[1:]
    seq = {
        (): [("interface", "memif interface configuration")],
        ("interface",): [("memif", "shared memory packet interfaces")],
        ("interface", "memif"): [("socket", "socket <socket-id>")],
        ("interface", "memif", "socket"): [("<socket-id>", "1..4294967294")],
    }
    if tuple(w) in seq:
        return seq[tuple(w)]
    if w[:3] == ["interface", "memif", "socket"] and len(w) == 4:
        return [("filename", "<path> socket file"), ("interface", "<if-id> memif interface")]
    if mode == MEMIF and w[0] == "mode" and len(w) == 1:
        return [("ethernet", "L2"), ("ip", "L3"), ("punt-inject", "not implemented")]
    if mode == MEMIF and w[0] == "role":
        if len(w) == 1:
            return [("server", "listen (memif master)"), ("client", "connect (memif slave)")]
        if w[1] == "client":
            return [(q, "<1-255>") for q in ("rx-queues", "tx-queues") if q not in w]
    return []
