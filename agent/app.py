"""Builds the agent: every part made once, here, with what it needs.

The Server (sessions, RPC table, hooks) is made first; then the parts in the
order their constructors need each other: notifications before the config-change
events that send through them; NACM and the events before the datastores that
check and report through them; the applier before the datastores that apply
through it. Parts that need the datastores' running tree get a function that
reads it when called, so nothing is filled in after it is made.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import Any

from lxml import etree

from agent.datastore.store import Datastores
from agent.datastore.worker import Worker
from agent.memif import apply
from agent.memif.config import MemifConfig
from agent.memif.typed_view import TypedViews
from agent.nacm import enforce as nacm
from agent.rpc import (
    base_ops,
    config_events,
    input_check,
    monitoring,
    nmda,
    notifications,
    session_ops,
)
from agent.server import Server
from agent.ssh.users import UserDB

# The parts build_server can leave out (tests serve a subset); each needs
# those listed before it that it names: nmda, apply and config_events need the
# datastores (base_ops), config_events also notifications.
FEATURES = (
    "agent.rpc.input_check",
    "agent.rpc.session_ops",
    "agent.rpc.monitoring",
    "agent.rpc.notifications",
    "agent.rpc.base_ops",
    "agent.rpc.nmda",
    "agent.rpc.config_events",
    "agent.memif.apply",
    "agent.nacm.enforce",
)


def build_server(options: Any, modules: Collection[str] = FEATURES) -> Server:
    unknown = set(modules) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown agent parts: {', '.join(sorted(unknown))}")
    want = set(modules)
    server = Server(options)
    users_path = getattr(options, "users", None)
    if users_path is not None:
        server.users = UserDB(users_path)
    if "agent.rpc.input_check" in want:
        input_check.register(server)
    if "agent.rpc.session_ops" in want:
        session_ops.register(server)
    if "agent.rpc.monitoring" in want:
        server.monitoring = monitoring.register(server)
    if "agent.rpc.notifications" in want:
        server.notifications = notifications.register(server)
    if "agent.rpc.base_ops" not in want:
        if "agent.memif.apply" in want:
            apply.register(server, None)
        if "agent.nacm.enforce" in want:
            server.nacm = nacm.Nacm(server, lambda: None, server.users)
            nacm.register(server, server.nacm)
        return server

    ds: Datastores | None = None  # made below; read only when called

    def running() -> etree._Element | None:
        return ds.running if ds is not None else None

    def running_config() -> MemifConfig:
        assert ds is not None
        return ds.typed.get(ds.running)

    typed = TypedViews()
    # Big edits, copies, commits, validations, reads and change events run in
    # this thread, in order, so that the loop keeps serving the other sessions.
    worker = Worker()
    server.add_shutdown_hook(worker.close)
    events = None
    if "agent.rpc.config_events" in want and server.notifications is not None:
        events = config_events.register(server, server.notifications, typed, worker)
    if "agent.nacm.enforce" in want:
        server.nacm = nacm.Nacm(server, running, server.users)
    applier = apply.register(server, running_config) if "agent.memif.apply" in want else None
    ds = Datastores(
        server.schema,
        Path(options.state_dir),
        socket0=getattr(options, "socket0", None) or "/run/vpp/memif.sock",
        xpath_rules=server.xpath_rules,
        typed=typed,
        applier=applier,
        access=server.nacm,
        events=events,
        worker=worker,
    )
    server.datastores = ds
    base_ops.register(server, ds)
    if "agent.rpc.nmda" in want:
        nmda.register(server)
    if server.nacm is not None:
        # Registered last: its RPC hook runs after the input check's.
        nacm.register(server, server.nacm)
    return server
