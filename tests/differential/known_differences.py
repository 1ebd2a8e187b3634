"""Every reply in which the agent and yuma123 netconfd 2.13 differ after
normalisation, with the RFC text that makes the agent right. docs/conformance.md
lists the same; test_differential_netconfd.py fails on any difference not
here, and on any listed one that no longer occurs."""

from __future__ import annotations

# "sequence#step" (steps counted from 0, reset steps excluded) -> why the agent is right.
KNOWN: dict[str, str] = {}
