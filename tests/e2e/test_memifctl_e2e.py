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

MEMIFCTL = [sys.executable, "-m", "memifctl.main"]


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
        os.write(fd, b"interface memif socket 9 filename /x\r")  # not in exec mode
        _read_until(fd, b"enter 'configure' first")
        os.write(fd, b"configure terminal\r")
        _read_until(fd, b"memifctl(config)#")
        os.write(
            fd, b"interface memif socket 9 filename '" + str(tmp_path).encode() + b"/m 9.sock'\r"
        )
        _read_until(fd, b"memifctl(config)#")
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
        _read_until(fd, b"memifctl(config)#")
        os.write(fd, b"commit\r")
        _read_until(fd, b"memifctl(config)#")
        os.write(fd, b"interface memif socket 9 interface 3\r")
        _read_until(fd, b"config-memif 9/3)#")
        os.write(fd, b"end\r")
        _read_until(fd, b"\nmemifctl#")
        os.write(fd, b"show interface memif detail\r")
        out = _read_until(fd, b"Connection state")
        assert b"memif9/3:\r\n    Socket id: 9" in out and b"Configured ring size: 2048" in out
        assert b"m 9.sock" in out
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
    ag.wait_log("subscribed to NETCONF", timeout=20)  # before the link comes up
    # A refused transaction while monitor and show run alongside: nothing changes,
    # the lock is released, monitor carries on.
    r = ctl(ag, "no interface memif socket 23; commit")
    assert r.returncode == 1 and "in use" in r.stderr
    with ag.connect() as m:
        m.lock(target="candidate")
        m.unlock(target="candidate")
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
        event = json.loads(out.strip())["ietf-restconf:notification"]
        body = event["memif-agent:link-state-change"]
        assert (body["name"], body["link-status"]) == ("memif23/100", "up"), err
        assert (body["socket-id"], body["id"]) == (23, 100) and event["eventTime"]
        assert monitor.returncode == 0
    finally:
        monitor.kill()
        peer.close()


NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
MEMIF_FILTER = ("subtree", '<memif xmlns="urn:memif-agent:yang:memif-agent"/>')


def _config(m, source: str) -> bytes:
    from lxml import etree

    return etree.tostring(m.get_config(source=source, filter=MEMIF_FILTER).data, method="c14n")


def test_refused_commit_leaves_the_candidate_as_found(ag, tmp_path) -> None:
    r = ctl(
        ag,
        f"interface memif socket 23 filename {tmp_path}/m23.sock; "
        "interface memif socket 23 interface 100; role server",
    )  # no `commit`: a command line commits at its end
    assert r.returncode == 0, r.stderr
    m = ag.connect()
    running = _config(m, "running")
    assert b"m23.sock" in running
    # refused: socket 23 is in use; the edits it made before the refusal are gone
    r = ctl(
        ag,
        f"interface memif socket 26 filename {tmp_path}/m26.sock; "
        "no interface memif socket 23; commit",
    )
    assert r.returncode == 1
    assert r.stderr.startswith("error: socket 23 is in use"), r.stderr
    assert _config(m, "candidate") == _config(m, "running") == running
    # refused by the model, at edit time: same
    r = ctl(ag, 'interface memif socket 23 interface 100; secret "abc def"')
    assert r.returncode == 1 and "without spaces" in r.stderr
    assert _config(m, "candidate") == running
    # a quoted value with shell-special characters is one value
    r = ctl(ag, "interface memif socket 23 interface 100; secret 'a;b#c\"d'")
    assert r.returncode == 0, r.stderr
    # the next unrelated command line is not hit by the earlier refusals
    r = ctl(ag, f"interface memif socket 24 filename '{tmp_path}/m 24.sock'; commit")
    assert r.returncode == 0, r.stderr
    after = _config(m, "running")
    assert b"m 24.sock" in after and b"m26.sock" not in after and b'a;b#c"d' in after
    assert _config(m, "candidate") == after
    # the lock was released each time: this session can take it
    m.lock(target="candidate")
    m.unlock(target="candidate")


def test_lock_held_by_another_session_says_who(ag, tmp_path) -> None:
    holder = ag.connect()
    holder.lock(target="candidate")
    sid = holder.session_id
    before = _config(holder, "running")
    r = ctl(ag, f"interface memif socket 30 filename {tmp_path}/m30.sock")
    assert r.returncode == 1
    assert f"locked by session {sid}, user admin from 127.0.0.1" in r.stderr, r.stderr
    assert r.stderr.count("\n") == 1
    assert _config(holder, "candidate") == _config(holder, "running") == before
    # show commands do not need the lock
    assert ctl(ag, "show interface memif").returncode == 0
    holder.unlock(target="candidate")
    # uncommitted changes of another (unlocked) session: refused, not swept along
    holder.edit_config(
        target="candidate",
        config=f'<config xmlns="{NC}"><memif xmlns="urn:memif-agent:yang:memif-agent"><socket>'
        f"<id>31</id><filename>{tmp_path}/m31.sock</filename></socket></memif></config>",
    )
    r = ctl(ag, f"interface memif socket 30 filename {tmp_path}/m30.sock")
    assert r.returncode == 1 and "uncommitted changes of another session" in r.stderr
    assert b"m31.sock" in _config(holder, "candidate")  # the other session's work kept
    holder.discard_changes()
    r = ctl(ag, f"interface memif socket 30 filename {tmp_path}/m30.sock")
    assert r.returncode == 0, r.stderr


def test_show_candidate_previews_this_sessions_changes(ag, tmp_path) -> None:
    r = ctl(
        ag,
        stdin=f"configure\ninterface memif socket 8 filename {tmp_path}/m8.sock\n"
        "show configuration candidate\ndiscard\nshow configuration candidate\nend\n",
    )
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.split("</data>")[:2]
    assert "m8.sock" in first and "m8.sock" not in second
    m = ag.connect()
    assert b"m8.sock" not in _config(m, "candidate") + _config(m, "running")


def test_json_is_rfc7951_with_types(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "dp")  # with its dataplane: state and counters
    r = ctl(
        ag,
        f"interface memif socket 23 filename {tmp_path}/m23.sock; "
        "interface memif socket 23 interface 100; enable",
    )
    assert r.returncode == 0, r.stderr
    r = ctl(ag, "--json", "show interface memif")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    memif = doc["memif-agent:memif"]
    s0 = next(s for s in memif["socket"] if s["id"] == 0)
    assert s0["filename"] == ag.socket0
    itf = memif["interface"][0]
    assert (itf["socket-id"], itf["id"], itf["enabled"]) == (23, 100, True)
    state = itf["state"]
    assert isinstance(state["counters"]["rx-packets"], str)  # uint64: a string (RFC 7951)
    assert state["counters"]["rx-packets"] == "0"
    assert state["link-status"] == "down"
    r = ctl(ag, "--json", "show configuration running")
    assert json.loads(r.stdout)["memif-agent:memif"]["interface"][0]["enabled"] is True


def test_closed_stdout_ends_quietly(ag, tmp_path) -> None:
    for i in range(3):
        assert (
            ctl(ag, f"interface memif socket {i + 1} filename {tmp_path}/m{i}.sock").returncode == 0
        )
    r = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            " ".join([*MEMIFCTL, "--port", str(ag.port), "--json", "show interface memif"])
            + ' | head -1; echo "status ${PIPESTATUS[0]}" >&2',
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.stdout == "{\n"
    # Whether memifctl wrote before or after head exited is a race: both end quietly.
    assert r.stderr.strip() in ("status 0", "status 141"), r.stderr
    # A reader that is already gone: always 141, no traceback.
    rd, wr = os.pipe()
    os.close(rd)
    p = subprocess.run(
        [*MEMIFCTL, "--port", str(ag.port), "--json", "show interface memif"],
        stdout=wr,
        stderr=subprocess.PIPE,
        text=True,
        timeout=60,
    )
    os.close(wr)
    assert p.returncode == 141 and p.stderr == "", p.stderr


def test_tnsr_layout_from_the_live_agent(start_agent, tmp_path) -> None:
    """TNSR's documented example, byte for byte but for the MAC and the two socket
    paths (socket 0 and socket 23 live under the test's directory here)."""
    from tests.unit.test_memifctl_show import TNSR_EXAMPLE

    ag = start_agent(tmp_path / "dp")
    sock = str(tmp_path / "memif23.sock")
    r = ctl(
        ag,
        f"interface memif socket 23 filename {sock}; "
        "interface memif socket 23 interface 100; role server",
    )
    assert r.returncode == 0, r.stderr
    out = ctl(ag, "show interface memif").stdout.rstrip("\n")
    mac = re.search(r"MAC address: (02:fe(:[0-9a-f]{2}){4})$", out, re.M)
    assert mac, out
    want = (
        TNSR_EXAMPLE.replace("/run/vpp/memif.sock", ag.socket0)
        .replace("/tmp/memif23.sock", sock)
        .replace("02:fe:2d:e2:87:a8", mac.group(1))
    )
    assert out == want


def test_monitor_ends_when_the_agent_goes_away(ag) -> None:
    mon = subprocess.Popen(
        [*MEMIFCTL, "--port", str(ag.port), "monitor"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Once the agent counts monitor's session besides ours, monitor is connected.
        m = ag.connect()
        end = time.time() + 20
        while (
            len(m.get(filter=("subtree", _SESSIONS)).data.xpath("//*[local-name()='session']")) < 2
        ):
            assert time.time() < end and mon.poll() is None
            time.sleep(0.05)
        ag.kill()
        out, err = mon.communicate(timeout=20)
        assert mon.returncode == 3, (out, err)
        assert "lost the NETCONF session" in err and "Traceback" not in err
    finally:
        mon.kill()


_SESSIONS = (
    '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"><sessions/>'
    "</netconf-state>"
)
