"""The rooms of agent/ and what each may import (docs/architecture.md).

Every import statement of every module counts: at module level, inside
functions and under `if TYPE_CHECKING:`, because a type is a dependency too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

AGENT = Path(__file__).resolve().parents[2] / "agent"

WIRE = ("agent.netconf", "agent.ssh", "agent.server", "agent.app", "agent.main", "asyncssh")

# room -> (forbidden prefixes, allowed exceptions under a forbidden prefix)
RULES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # The protocol, sans-I/O: lxml and the shared error type only.
    "agent.netconf": (
        ("agent", "asyncio", "asyncssh", "libyang"),
        ("agent.errors", "agent.netconf"),
    ),
    # Protocol-neutral layers a RESTCONF front end can call.
    "agent.rpc": (WIRE, ()),
    "agent.datastore": (WIRE + ("agent.rpc",), ()),
    "agent.nacm": (WIRE, ()),
    "agent.memif": (WIRE + ("agent.rpc", "agent.nacm"), ()),
    "agent.yangdata": (WIRE + ("agent.rpc", "agent.datastore", "agent.nacm", "asyncio"), ()),
    # The SSH transport feeds NETCONF sessions to the server; it knows nothing
    # of what the RPCs do.
    "agent.ssh": (
        ("agent.rpc", "agent.datastore", "agent.nacm", "agent.memif", "agent.yangdata", "libyang"),
        (),
    ),
    # The second front end: the same RPC layer and datastores as NETCONF, never
    # the NETCONF server or SSH transport; it shares the login throttle and users
    # file with SSH, and the NETCONF parser's XML defences (hardened_parser).
    "agent.restconf": (
        WIRE,
        ("agent.ssh.logins", "agent.ssh.users", "agent.netconf.session"),
    ),
    # The error every room raises: plain data, no wire format.
    "agent.errors": (("agent", "asyncio", "asyncssh", "libyang", "lxml"), ("agent.errors",)),
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(AGENT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_in(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module `source` (of `module`) imports, as dotted names; a
    from-import also names the imported member, which may be a submodule."""
    package = module if is_package else module.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def imports_of(path: Path) -> set[str]:
    return imports_in(path.read_text(), _module_name(path), path.name == "__init__.py")


def _under(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _modules() -> list[Path]:
    return sorted(AGENT.rglob("*.py"))


def _room(module: str) -> str | None:
    for room in sorted(RULES, key=len, reverse=True):
        if _under(module, room):
            return room
    return None


def violations(module: str, imported: set[str]) -> list[str]:
    room = _room(module)
    if room is None:
        return []
    forbidden, allowed = RULES[room]
    bad = []
    for name in sorted(imported):
        if any(_under(name, a) for a in allowed):
            continue
        if any(_under(name, f) for f in forbidden):
            bad.append(f"{module} imports {name} (room {room})")
    return bad


def test_every_module_is_in_a_room_or_the_application():
    application = {"agent", "agent.app", "agent.main", "agent.service", "agent.config_file"}
    application |= {"agent.server"}
    homeless = [
        m for m in map(_module_name, _modules()) if _room(m) is None and m not in application
    ]
    assert homeless == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: _module_name(p))
def test_imports_stay_inside_the_rules(path: Path):
    assert violations(_module_name(path), imports_of(path)) == []


def test_the_walker_sees_imports_in_functions_and_type_checking_blocks():
    # A rule nobody could break would prove nothing: the walker must find
    # imports wherever they are written, relative ones included.
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import libyang\n"
        "def f():\n    import asyncssh\n    from agent.yangdata import schema\n"
        "from . import framing\n"
        "from ..rpc import base_ops\n"
    )
    module = "agent.netconf.probe"
    found = imports_in(source, module)
    assert {"agent.netconf.framing", "agent.rpc.base_ops"} <= found
    assert violations(module, found) == [
        "agent.netconf.probe imports agent.rpc (room agent.netconf)",
        "agent.netconf.probe imports agent.rpc.base_ops (room agent.netconf)",
        "agent.netconf.probe imports agent.yangdata (room agent.netconf)",
        "agent.netconf.probe imports agent.yangdata.schema (room agent.netconf)",
        "agent.netconf.probe imports asyncssh (room agent.netconf)",
        "agent.netconf.probe imports libyang (room agent.netconf)",
    ]
    assert "asyncssh" in imports_of(AGENT / "ssh" / "transport.py")


def _members(proto: type) -> set[str]:
    names = set(getattr(proto, "__annotations__", {}))
    names |= {n for n, v in vars(proto).items() if not n.startswith("_") and callable(v)}
    names |= {n for n, v in vars(proto).items() if isinstance(v, property)}
    return names


def test_the_netconf_server_and_session_are_what_the_rpc_layer_is_typed_against():
    # The RPC layer names only these protocols; the NETCONF front end must keep
    # providing every member of them (a RESTCONF one would be held to the same).
    from types import SimpleNamespace

    from agent.netconf.session import Session
    from agent.rpc.host import ClientSession, Host
    from agent.server import Server

    server = Server(SimpleNamespace(max_message_size=0))
    session = server.new_session("alice")
    assert isinstance(session, Session)
    missing = [n for n in sorted(_members(Host)) if not hasattr(server, n)]
    assert missing == []
    missing = [n for n in sorted(_members(ClientSession)) if not hasattr(session, n)]
    assert missing == []
    assert {"register_rpc", "datastores", "sessions"} <= _members(Host)
    assert {"is_open", "end_reason", "close_after_reply"} <= _members(ClientSession)
