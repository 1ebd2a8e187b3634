"""Builds the Server and plugs in the feature modules."""

from __future__ import annotations

import importlib
import logging
from typing import Any

from agent.server import Server

log = logging.getLogger(__name__)

# Order matters: the datastore registers before apply, and NACM last so it can
# wrap what the others registered.
FEATURE_MODULES = (
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


def build_server(options: Any, modules: tuple[str, ...] = FEATURE_MODULES) -> Server:
    server = Server(options)
    users_path = getattr(options, "users", None)
    if users_path is not None:
        from agent.ssh.users import UserDB

        server.users = UserDB(users_path)
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            # Only a missing feature module is skipped; a missing dependency
            # inside one is a real error.
            if e.name != name:
                raise
            log.warning("feature module %s not present; skipped", name)
            continue
        module.register(server)
    return server
