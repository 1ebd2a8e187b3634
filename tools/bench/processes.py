"""Processes the benchmarks start: the agent (or the echo anchor) on a free
port, and ncclient sessions to it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ncclient.transport.session
from ncclient import manager

ROOT = Path(__file__).resolve().parents[2]
ncclient.transport.session.TICK = 0.001  # ncclient otherwise waits up to 100 ms per request


def start(cmd: list[str]) -> tuple[subprocess.Popen, int]:
    """Start a server that logs 'listening on ADDR:PORT' on stderr; (process, port)."""
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stderr is not None
    for line in p.stderr:
        m = re.search(r"listening on [^:]+:(\d+)", line)
        if m:
            return p, int(m.group(1))
    raise RuntimeError(f"{cmd[0]} did not start")


def start_agent(work: Path, *extra: str) -> tuple[subprocess.Popen, int]:
    """An agent on a free port with its state under `work`."""
    return start(
        [
            sys.executable,
            "-m",
            "agent.main",
            "--port",
            "0",
            "--state-dir",
            str(work / "state"),
            "--socket0",
            str(work / "memif0.sock"),
            "--log-level",
            "warning",
            *extra,
        ]
    )


def connect(port: int, **kw) -> manager.Manager:
    return manager.connect(
        host="127.0.0.1",
        port=port,
        username="admin",
        password="admin",
        hostkey_verify=False,
        allow_agent=False,
        look_for_keys=False,
        **kw,
    )
