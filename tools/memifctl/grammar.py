"""memifctl's command language, TNSR style: parsing and completion, no I/O.

Top level:
  interface memif socket <socket-id> filename <path>
  interface memif socket <socket-id> interface <if-id>      (enters config-memif)
  no interface memif socket <socket-id> [interface <if-id>]
  commit | discard | show configuration candidate|running
  show interface memif [detail|counters] | monitor | exit
config-memif mode:
  buffer-size <n> | mac-address <mac> | mode ethernet|ip|punt-inject | ring-size <log2>
  role server | role client [rx-queues <n>] [tx-queues <n>] | secret <s> | xconnect <memifS/I>
  enable | disable | no <leaf> | exit
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tools.memifctl.errors import UsageError

MEMIF_LEAVES = {
    "buffer-size": "<64-65535> buffer size in bytes",
    "mac-address": "<xx:xx:xx:xx:xx:xx> MAC address (ethernet mode)",
    "mode": "ethernet | ip | punt-inject",
    "ring-size": "<8-32> ring size as log2 of entries",
    "role": "server | client [rx-queues <n>] [tx-queues <n>]",
    "secret": "<1-23 printable characters> shared secret",
    "xconnect": "<memifS/I> patch frames to another memif interface",
}
TOP_HELP = {
    "interface": "interface memif socket <id> filename <path> | ... interface <if-id>",
    "no": "delete: no interface memif socket <id> [interface <if-id>]",
    "commit": "commit the candidate configuration",
    "discard": "discard uncommitted changes",
    "show": "show interface memif [detail|counters] | show configuration candidate|running",
    "monitor": "print link events as they happen",
    "exit": "leave memifctl",
}
MEMIF_HELP = {
    **MEMIF_LEAVES,
    "enable": "set the interface administratively up",
    "disable": "set the interface administratively down",
    "no": "no <leaf>: remove a setting",
    "exit": "back to the top level",
    "show": TOP_HELP["show"],
    "commit": TOP_HELP["commit"],
}


@dataclass(frozen=True)
class Command:
    """A parsed command: `action` plus arguments."""

    action: str
    args: dict[str, str] = field(default_factory=dict)


def _uint(word: str, what: str, lo: int = 0, hi: int = 4294967295) -> str:
    if not word.isdigit() or not lo <= int(word) <= hi:
        raise UsageError(f"{what} must be a number from {lo} to {hi}, not '{word}'")
    return str(int(word))


def _need(words: list[str], n: int, usage: str) -> None:
    if len(words) < n:
        raise UsageError(f"incomplete command; usage: {usage}")


def parse(line: str, in_memif: bool = False) -> Command | None:
    """One line of input -> Command (None for a blank line). Raises UsageError."""
    words = line.split()
    if not words:
        return None
    if in_memif:
        cmd = _parse_memif(words)
        if cmd is not None:
            return cmd
    return _parse_top(words)


def _parse_top(w: list[str]) -> Command:
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
                raise UsageError("usage: interface memif socket <socket-id> filename <path>")
            return Command("set-socket", {"socket-id": sid, "filename": tail[1]})
        if tail[0] == "interface":
            iid = _uint(tail[1], "interface id")
            if len(tail) != 2:
                raise UsageError(f"unexpected '{' '.join(tail[2:])}'")
            return Command(
                "delete-interface" if neg else "enter-memif", {"socket-id": sid, "id": iid}
            )
        raise UsageError(f"expected 'filename' or 'interface' after the socket id, got '{tail[0]}'")
    if head == "commit" and len(w) == 1:
        return Command("commit")
    if head == "discard" and len(w) == 1:
        return Command("discard")
    if head in ("exit", "quit", "end") and len(w) == 1:
        return Command("exit")
    if head == "monitor" and len(w) == 1:
        return Command("monitor")
    if head == "show":
        if w[1:3] == ["interface", "memif"] and len(w) <= 4:
            view = w[3] if len(w) == 4 else "brief"
            if view not in ("brief", "detail", "counters"):
                raise UsageError("usage: show interface memif [detail|counters]")
            return Command("show-memif", {"view": view})
        if len(w) == 3 and w[1] == "configuration" and w[2] in ("candidate", "running"):
            return Command("show-config", {"source": w[2]})
        raise UsageError(
            "usage: show interface memif [detail|counters] | show configuration candidate|running"
        )
    raise UsageError(f"unknown command '{' '.join(w)}'; try '?' or 'help'")


def _parse_memif(w: list[str]) -> Command | None:
    head = w[0]
    if head in ("enable", "disable") and len(w) == 1:
        return Command("set-leaf", {"enabled": "true" if head == "enable" else "false"})
    if head == "no" and len(w) == 2 and w[1] in (*MEMIF_LEAVES, "enable"):
        leaf = "enabled" if w[1] == "enable" else w[1]
        return Command("remove-leaf", {"leaf": leaf})
    if head == "exit" and len(w) == 1:
        return Command("exit-memif")
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
        value = w[1]
        if head == "mode" and value not in ("ethernet", "ip", "punt-inject"):
            raise UsageError("usage: mode ethernet | ip | punt-inject")
        if head == "buffer-size":
            value = _uint(value, head, 64, 65535)
        if head == "ring-size":
            value = _uint(value, head, 8, 32)
        return Command("set-leaf", {head: value})
    return None


def completions(line: str, in_memif: bool = False) -> list[tuple[str, str]]:
    """(word, help) pairs that may follow `line`; a trailing space means a new word."""
    words = line.split()
    if line and not line.endswith(" "):
        words, partial = words[:-1], words[-1]
    else:
        partial = ""
    options = _next_words(words, in_memif)
    return [(o, h) for o, h in options if o.startswith(partial)]


def _next_words(w: list[str], in_memif: bool) -> list[tuple[str, str]]:
    if not w:
        table = MEMIF_HELP if in_memif else TOP_HELP
        return sorted(table.items())
    if w == ["no"] and in_memif:
        return sorted((k, f"remove {k}") for k in MEMIF_LEAVES) + [("enable", "disable")]
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
    if w[0] == "show":
        if len(w) == 1:
            return [("interface", "interface state"), ("configuration", "datastore contents")]
        if w[1:] == ["interface"]:
            return [("memif", "memif interfaces")]
        if w[1:] == ["interface", "memif"]:
            return [("detail", "remote names, reasons, queues"), ("counters", "packet counters")]
        if w[1:] == ["configuration"]:
            return [("candidate", "uncommitted"), ("running", "in effect")]
    if in_memif and w[0] == "mode" and len(w) == 1:
        return [("ethernet", "L2"), ("ip", "L3"), ("punt-inject", "not implemented")]
    if in_memif and w[0] == "role":
        if len(w) == 1:
            return [("server", "listen (memif master)"), ("client", "connect (memif slave)")]
        if w[1] == "client":
            return [(q, "<1-255>") for q in ("rx-queues", "tx-queues") if q not in w]
    return []
