"""The agent's RESTCONF options (also keys of the configuration file)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("RESTCONF (RFC 8040)")
    g.add_argument(
        "--restconf-port",
        type=int,
        default=None,
        help="serve RESTCONF on this port (HTTPS; 0 picks a free port; default: off)",
    )
    g.add_argument(
        "--restconf-address",
        default=None,
        help="RESTCONF listen address (default: --address)",
    )
    g.add_argument(
        "--restconf-cert",
        type=Path,
        default=None,
        help="TLS certificate (PEM) of the RESTCONF server (default: one generated on "
        "first start, STATE_DIR/restconf_cert.pem)",
    )
    g.add_argument(
        "--restconf-key",
        type=Path,
        default=None,
        help="private key (PEM) of --restconf-cert",
    )
    g.add_argument(
        "--restconf-client-ca",
        type=Path,
        default=None,
        help="CA bundle (PEM) for TLS client certificates; a client certificate it "
        "signed logs in as the user its subject common name names",
    )
    g.add_argument(
        "--restconf-plain-http",
        action="store_true",
        help="serve plain HTTP instead of HTTPS (only on a loopback address)",
    )
