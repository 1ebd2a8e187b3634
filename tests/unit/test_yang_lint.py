"""The YANG model lints clean with pyang --strict and yanglint, and the
published tree (docs/memif-tree.txt) matches it."""

import subprocess
import sys
from pathlib import Path

from agent.yangdata.schema import YANG_DIR, standard_module_dirs

ROOT = Path(__file__).resolve().parents[2]
MODULE = YANG_DIR / "memif-agent.yang"
PYANG = [sys.executable, "-m", "pyang"]


def _path_args(flag: str) -> list[str]:
    return [a for d in standard_module_dirs() for a in (flag, str(d))]


def test_pyang_strict_has_no_warnings() -> None:
    r = subprocess.run(
        [*PYANG, "--strict", *_path_args("-p"), str(MODULE)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_yanglint_has_no_warnings() -> None:
    r = subprocess.run(["yanglint", *_path_args("-p"), str(MODULE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "" and r.stderr == ""


def test_docs_tree_is_current() -> None:
    r = subprocess.run(
        [*PYANG, "-f", "tree", *_path_args("-p"), str(MODULE)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert (ROOT / "docs" / "memif-tree.txt").read_text() == r.stdout, (
        "docs/memif-tree.txt is stale: regenerate with pyang -f tree"
    )


def test_model_has_every_tnsr_leaf() -> None:
    """Every knob of TNSR's 'interface memif' commands and 'show interface memif' columns."""
    tree = (ROOT / "docs" / "memif-tree.txt").read_text()
    for leaf in (
        "filename",
        "buffer-size",
        "mac-address",
        "mode",
        "ring-size",
        "role",
        "rx-queues",
        "tx-queues",
        "secret",
        "enabled",
        "link-status",
        "admin-status",
        "connection-state",
        "remote-name",
        "remote-interface-name",
        "local-disconnect-reason",
        "remote-disconnect-reason",
        "interface-count",
        "listening",
        "link-state-change",
    ):
        assert f" {leaf}" in tree, leaf
