"""A short libFuzzer run (ASan + UBSan) over the control-message codec, the
handshake state machines and the ring receive path, seeded from
tests/fuzz/corpus; `make fuzz` runs longer."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_fuzz_ctrl_and_ring(tmp_path) -> None:
    clang = shutil.which("clang")
    if clang is None:
        pytest.fail("clang is needed (Makefile installs it)")
    exe = tmp_path / "fuzz_ctrl"
    src = ROOT / "dataplane"
    subprocess.run(
        [
            clang,
            "-g",
            "-O1",
            "-fsanitize=fuzzer,address,undefined",
            f"-I{src / 'src'}",
            str(src / "fuzz" / "fuzz_ctrl.c"),
            str(src / "src" / "ctrl.c"),
            str(src / "src" / "handshake.c"),
            str(src / "src" / "ring.c"),
            "-o",
            str(exe),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    corpus = tmp_path / "corpus"
    shutil.copytree(ROOT / "tests" / "fuzz" / "corpus", corpus)
    r = subprocess.run(
        [str(exe), "-max_total_time=15", "-rss_limit_mb=1024", str(corpus)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-4000:]
    assert "Done" in r.stderr
