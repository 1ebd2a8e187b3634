"""Each script in examples/ runs as a user would run it, against a live agent
with its dataplane, and does what its docstring says."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from dataplane import Dataplane

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(ag, name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), "--port", str(ag.port), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_examples_end_to_end(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a")
    sock = str(tmp_path / "memif23.sock")
    watcher = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "watch_links.py"), "--port", str(ag.port), "--count", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watcher.stdout is not None
    assert watcher.stdout.readline().strip() == "subscribed"
    r = run(ag, "configure_server.py", "--filename", sock)
    assert r.returncode == 0, r.stderr
    assert "committed memif23/100" in r.stdout
    peer = Dataplane("example-peer")
    try:
        peer.add_socket(23, sock)
        peer.add_interface(23, 100, role="client", enabled=True)
        end = time.time() + 10
        while "link up" not in (out := run(ag, "show_state.py").stdout):
            assert time.time() < end, out
            time.sleep(0.1)
        assert "memif23/100" in out and "peer example-peer" in out
        r = run(ag, "confirmed_commit.py", "--timeout", "1")
        assert r.returncode == 0, r.stderr
        assert r.stdout.splitlines() == [
            "after confirmed commit: enabled = false",
            "after the timeout: enabled = true",
        ]
        out, _ = watcher.communicate(timeout=30)
        assert out.splitlines() == ["memif23/100 up connected", "memif23/100 down admin down"]
    finally:
        watcher.kill()
        peer.close()
