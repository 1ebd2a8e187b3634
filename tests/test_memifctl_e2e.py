"""memifctl as a user runs it: one-shot commands in a subprocess, commands on
stdin, and the interactive shell under a pty, against a live agent."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

MEMIFCTL = [sys.executable, "-m", "tools.memifctl.main"]


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


def ctl(ag, *words: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*MEMIFCTL, "--port", str(ag.port), *words],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_one_shot_session_and_exit_codes(ag, tmp_path) -> None:
    sock = tmp_path / "memif23.sock"
    r = ctl(
        ag,
        f"interface memif socket 23 filename {sock}; interface memif socket 23 "
        "interface 100; role server; enable; exit; commit",
    )
    assert r.returncode == 0, r.stderr
    r = ctl(ag, "show", "interface", "memif")
    assert r.returncode == 0
    assert f"23         {sock}" in r.stdout
    assert "    Interface: memif23/100" in r.stdout and "    Admin up: true" in r.stdout
    r = ctl(ag, "--json", "show interface memif")
    assert '"filename": "' + str(sock) + '"' in r.stdout
    # the agent refuses: exit 1 and one readable line
    r = ctl(ag, "interface memif socket 0 filename /tmp/x.sock; commit")
    assert r.returncode == 1
    assert r.stderr.strip().startswith("error: socket 0 is built in")
    assert r.stderr.count("\n") == 1
    assert ctl(ag, "discard").returncode == 0
    # usage error: exit 2
    r = ctl(ag, "show interfaces")
    assert r.returncode == 2 and "usage: show interface memif" in r.stderr
    # connection failure: exit 3
    r = subprocess.run([*MEMIFCTL, "--port", "1", "commit"], capture_output=True, text=True)
    assert r.returncode == 3 and "cannot connect" in r.stderr
    # wrong password: exit 3
    r = ctl(ag, "--password", "nope", "commit")
    assert r.returncode == 3


def test_commands_on_stdin_and_no_forms(ag, tmp_path) -> None:
    script = (
        f"interface memif socket 5 filename {tmp_path}/m5.sock\n"
        "interface memif socket 5 interface 1\nrole client rx-queues 2\nsecret abc\nexit\n"
        "commit\nshow configuration running\n"
    )
    r = ctl(ag, stdin=script)
    assert r.returncode == 0, r.stderr
    assert "<rx-queues>2</rx-queues>" in r.stdout and "<secret>abc</secret>" in r.stdout
    r = ctl(
        ag,
        stdin="interface memif socket 5 interface 1\nno secret\nrole server\nexit\n"
        "commit\nshow configuration running\n",
    )
    assert r.returncode == 0, r.stderr
    assert "secret" not in r.stdout and "rx-queues" not in r.stdout
    r = ctl(
        ag,
        "no interface memif socket 5 interface 1; no interface memif socket 5; commit; "
        "show configuration running",
    )
    assert r.returncode == 0 and "<socket>" not in r.stdout


_ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")


def _read_until(fd: int, want: bytes, timeout: float = 20.0) -> bytes:
    """Read the pty until `want` shows up in the text with terminal escapes removed."""
    buf = b""
    end = time.time() + timeout
    while want not in _ANSI.sub(b"", buf):
        left = end - time.time()
        assert left > 0, f"timed out waiting for {want!r}; got {buf[-400:]!r}"
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                buf += os.read(fd, 4096)
            except OSError:
                break
    return _ANSI.sub(b"", buf)


def test_interactive_shell_under_pty(ag, tmp_path) -> None:
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["PROMPT_TOOLKIT_NO_CPR"] = "1"  # the pty answers no cursor queries
        os.execv(sys.executable, [*MEMIFCTL, "--port", str(ag.port)])
    try:
        _read_until(fd, b"memifctl#")
        os.write(fd, b"interface memif socket 9 filename " + str(tmp_path).encode() + b"/m9.sock\r")
        _read_until(fd, b"memifctl#")
        os.write(fd, b"interface memif socket 9 interface 3\r")
        _read_until(fd, b"config-memif 9/3)#")
        os.write(fd, b"ri\t")  # tab completes ring-size
        out = _read_until(fd, b"ring-size")
        os.write(fd, b" 11\r")
        _read_until(fd, b"config-memif 9/3)#")
        os.write(fd, b"role ?")  # '?' lists what may follow
        out = _read_until(fd, b"client")
        assert b"server" in out
        # The help is printed with the terminal in cooked mode, where the tty itself
        # would eat a ctrl-u: wait until the prompt is drawn again after the list.
        if b"# role" not in out.split(b"client", 1)[1]:
            _read_until(fd, b"# role")
        os.write(fd, b"\x15")  # ctrl-u: clear the line
        os.write(fd, b"exit\r")
        _read_until(fd, b"memifctl#")
        os.write(fd, b"commit\r")
        _read_until(fd, b"memifctl#")
        os.write(fd, b"show interface memif\r")
        out = _read_until(fd, b"Link up")
        assert b"Interface: memif9/3" in out and b"Ring size: 2048" in out
        os.write(fd, b"exit\r")
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.close(fd)


def test_show_link_up_with_a_real_peer(start_agent, tmp_path) -> None:
    from dataplane import Dataplane

    ag = start_agent(tmp_path / "dp")  # with its dataplane
    sock = str(tmp_path / "memif23.sock")
    r = ctl(
        ag,
        stdin=f"interface memif socket 23 filename {sock}\n"
        "interface memif socket 23 interface 100\nrole server\nenable\nexit\n"
        "commit\n",
    )
    assert r.returncode == 0, r.stderr
    assert "    Link up: false" in ctl(ag, "show interface memif").stdout
    monitor = subprocess.Popen(
        [*MEMIFCTL, "--port", str(ag.port), "--json", "--count", "1", "monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # let it subscribe before the link comes up (its start-up takes seconds on a loaded host)
    ag.wait_log("subscribed to NETCONF", timeout=20)
    peer = Dataplane("peer-app")
    try:
        peer.add_socket(23, sock)
        peer.add_interface(23, 100, role="client", enabled=True)
        end = time.time() + 10
        while "    Link up: true" not in (out := ctl(ag, "show interface memif detail").stdout):
            assert time.time() < end, out
            time.sleep(0.1)
        assert "    Remote name: peer-app" in out and "Connection state: connected" in out
        r = ctl(ag, "show interface memif counters")
        assert r.stdout.splitlines()[2].split()[0] == "memif23/100"
        out, err = monitor.communicate(timeout=20)
        event = json.loads(out.strip())
        assert (event["name"], event["link-status"]) == ("memif23/100", "up"), err
        assert monitor.returncode == 0
    finally:
        monitor.kill()
        peer.close()
