"""The C extension under AddressSanitizer (+UBSan): built into a temporary
directory with -fsanitize=address,undefined and driven by the ours<->ours and
hostile-peer tests in a subprocess. Any sanitizer report fails the test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dataplane_under_asan(tmp_path) -> None:
    cc = shutil.which("gcc")
    if cc is None:
        pytest.fail("gcc is needed for the ASan build")
    pkg = tmp_path / "dataplane"
    pkg.mkdir()
    for f in ("__init__.py", "perf.py"):
        shutil.copy(ROOT / "dataplane" / f, pkg / f)
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    src = sorted(str(p) for p in (ROOT / "dataplane" / "src").glob("*.c"))
    subprocess.run(
        [
            cc,
            "-std=gnu11",
            "-g",
            "-O1",
            "-fno-omit-frame-pointer",
            "-fsanitize=address,undefined",
            "-fno-sanitize-recover=undefined",
            "-shared",
            "-fPIC",
            f"-I{sysconfig.get_paths()['include']}",
            f"-I{ROOT / 'dataplane' / 'src'}",
            *src,
            "-o",
            str(pkg / f"_memif{suffix}"),
            "-lpthread",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    libasan = subprocess.run(
        [cc, "-print-file-name=libasan.so"], capture_output=True, text=True, check=True
    ).stdout.strip()
    env = dict(
        os.environ,
        PYTHONPATH=str(tmp_path),
        LD_PRELOAD=libasan,
        # CPython itself is not built with ASan: its arena allocations look like leaks.
        ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:exitcode=99",
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98",
    )
    check = subprocess.run(
        [sys.executable, "-c", "import dataplane; print(dataplane.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert check.stdout.strip().startswith(str(tmp_path)), check.stderr
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-x",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(ROOT),
            str(ROOT / "tests" / "interop" / "test_dp_ours.py"),
            str(ROOT / "tests" / "interop" / "test_dp_hostile.py"),
            str(ROOT / "tests" / "interop" / "test_dp_hostile_limits.py"),
            str(ROOT / "tests" / "protocol" / "test_dp_codec.py"),
        ],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=600,
    )
    out = r.stdout + r.stderr
    assert "ERROR: AddressSanitizer" not in out, out[-6000:]
    assert "runtime error" not in out, out[-6000:]
    assert r.returncode == 0, out[-6000:]
