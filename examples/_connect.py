"""Shared command-line options and connection for the examples."""

from __future__ import annotations

import argparse

import ncclient.transport.session
from ncclient import manager

# ncclient waits up to TICK seconds (0.1 by default) before sending each
# request; without this every RPC takes ~100 ms whatever the agent does.
ncclient.transport.session.TICK = 0.001

NS = "urn:memif-agent:yang:memif-agent"


def parser(description: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8830)
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="admin")
    return ap


def connect(args: argparse.Namespace) -> manager.Manager:
    return manager.connect(
        host=args.host,
        port=args.port,
        username=args.user,
        password=args.password,
        hostkey_verify=False,
        allow_agent=False,
        look_for_keys=False,
    )
