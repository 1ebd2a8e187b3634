"""The agent as a system service: configuration file, sd_notify readiness, SIGHUP
reload of the users file, logging targets; each against a real agent process."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_harness import REPO, AgentProcess
from ncclient.transport.errors import AuthenticationError

from agent import config_file, service
from agent.main import build_parser
from agent.ssh.users import User, format_user, hash_password

AGENT = [sys.executable, "-m", "agent.main"]


class ConfigFileAgent(AgentProcess):
    """The agent started from a configuration file (plus any flags), nothing else."""

    def __init__(self, workdir: Path, config: Path, *flags: str) -> None:
        super().__init__(workdir, *flags)
        self.config = config

    def command(self) -> list[str]:
        return [*AGENT, "--config", str(self.config), *self.extra_args]


def _write_config(path: Path, workdir: Path, **extra: str) -> Path:
    lines = [
        'address = "127.0.0.1"',
        "port = 0",
        f'state-dir = "{workdir / "state-from-file"}"',
        f'socket0 = "{workdir / "memif0.sock"}"',
        "no-dataplane = true",
        'log-level = "info"',
        "max-sessions = 1",
        *(f"{k} = {v}" for k, v in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def stopped():
    started: list[AgentProcess] = []
    yield started
    for a in started:
        try:
            a.stop()
        except Exception:
            a.kill()


def _session_refused(a: AgentProcess) -> bool:
    try:
        a.connect(timeout=10)
    except Exception:
        return True
    return False


def test_agent_runs_from_a_config_file_and_flags_override(tmp_path, stopped) -> None:
    cfg = _write_config(tmp_path / "agent.toml", tmp_path)
    a = ConfigFileAgent(tmp_path / "a", cfg)
    stopped.append(a)
    a.start()
    assert (tmp_path / "state-from-file" / "users").exists()  # state-dir from the file
    m = a.connect()
    assert m.connected
    assert _session_refused(a)  # max-sessions = 1 from the file
    a.stop()
    # flags win over the file: another state dir, two sessions
    b = ConfigFileAgent(
        tmp_path / "b", cfg, "--state-dir", str(tmp_path / "flag-state"), "--max-sessions", "2"
    )
    stopped.append(b)
    b.start()
    assert (tmp_path / "flag-state" / "users").exists()
    b.connect()
    assert b.connect().connected  # a second session: the flag's 2, not the file's 1


def test_every_flag_is_a_config_key() -> None:
    parser = build_parser()
    keys = config_file.file_options(parser)
    for action in parser._actions:
        longs = [o[2:] for o in action.option_strings if o.startswith("--")]
        if longs and action.dest not in config_file.NOT_IN_FILE:
            assert longs[0] in keys, longs[0]
    assert {"port", "state-dir", "socket-mode", "no-dataplane", "log-target"} <= set(keys)
    assert "hash-password" not in keys and "config" not in keys


def test_config_values_parse_as_their_flags(tmp_path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        'socket-mode = "660"\nport = 830\nidle-timeout = 5\nno-dataplane = true\n'
        f'state-dir = "{tmp_path}"\n'
    )
    opts = config_file.parse_args(build_parser(), ["--config", str(cfg), "--port", "9"])
    assert opts.socket_mode == 0o660 and opts.idle_timeout == 5.0 and opts.no_dataplane is True
    assert opts.port == 9 and opts.state_dir == tmp_path and opts.config == cfg


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 1\n", "unknown option 'prot'"),
        ('port = "x"\n', "port: invalid value 'x'"),
        ("port = true\n", "port: expected a value, not a boolean"),
        ('log-level = "loud"\n', "log-level: 'loud' is not one of"),
        ('no-dataplane = "yes"\n', "no-dataplane: expected true or false"),
        ("[port]\nx = 1\n", "port: expected a string or a number"),
        ("port = \n", "Invalid value"),
        ("hash-password = true\n", "unknown option 'hash-password'"),
    ],
)
def test_check_config_rejects_bad_files(tmp_path, text, message) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(text)
    r = subprocess.run(
        [*AGENT, "--config", str(cfg), "--check-config"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r
    assert message in r.stderr and str(cfg) in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_check_config_accepts_the_shipped_example_and_checks_the_users_file(tmp_path) -> None:
    example = REPO / "tools" / "systemd" / "agent.toml"
    base = [*AGENT, "--config", str(example), "--state-dir", str(tmp_path), "--check-config"]
    r = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "configuration OK" in r.stdout, r.stderr
    (tmp_path / "users").write_text("admin:plaintext-password::admin\n")
    r = subprocess.run(base, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "unsupported password hash" in r.stderr, r.stderr
    assert not (tmp_path / "ssh_host_ed25519_key").exists()  # checking changes nothing


class NotifyListener:
    """A NOTIFY_SOCKET as the service manager has it: a datagram socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))

    def wait_for(self, needle: str, timeout: float = 30.0) -> list[dict[str, str]]:
        """Messages received until one holds `needle` (as VAR=value)."""
        got: list[dict[str, str]] = []
        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            assert left > 0, f"{needle!r} not notified; got {got}"
            self.sock.settimeout(left)
            data = self.sock.recv(4096).decode()
            msg = dict(line.split("=", 1) for line in data.split("\n") if line)
            got.append(msg)
            if needle in data.split("\n"):
                return got

    def close(self) -> None:
        self.sock.close()


def _users_file(users: list[User], size: int | None = None) -> str:
    body = "".join(format_user(u) + "\n" for u in users)
    if size is None:
        return "#" + "-" * 300 + "\n" + body
    pad = size - len(body) - 2
    assert pad >= 0
    return "#" + "-" * pad + "\n" + body


def test_ready_reload_and_stopping_notified(start_agent, tmp_path, monkeypatch) -> None:
    """READY=1 after the listeners and the dataplane are up; SIGHUP re-reads the users
    file even when size and time stamp are unchanged (so the file's own change check
    cannot be what lets the new user in); STOPPING=1 on SIGTERM."""
    listener = NotifyListener(tmp_path / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", str(listener.path))
    admin = User("admin", hash_password("admin"), None, ("admin",))
    bob = User("bob", hash_password("bob-pw"), None, ("admin",))
    work = tmp_path / "a"
    users = work / "state" / "users"
    users.parent.mkdir(parents=True, mode=0o700)
    users.write_text(_users_file([admin]))
    users.chmod(0o600)
    before = users.stat()
    try:
        a = start_agent(work)  # with its dataplane
        msgs = listener.wait_for("READY=1")
        assert msgs[-1]["MAINPID"] == str(a.proc.pid)
        assert msgs[-1]["STATUS"] == f"listening on 127.0.0.1:{a.port}"
        # the dataplane answers by then: socket 0 has live state
        with a.connect() as m:
            data = m.get(filter=("subtree", '<memif xmlns="urn:memif-agent:yang:memif-agent"/>'))
        assert "<listening>" in data.data_xml, data.data_xml
        # the new file, same size and mtime
        users.write_text(_users_file([admin, bob], size=before.st_size))
        os.utime(users, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert users.stat().st_size == before.st_size
        with pytest.raises(AuthenticationError):
            a.connect("bob", "bob-pw")
        a.proc.send_signal(signal.SIGHUP)
        listener.wait_for("RELOADING=1")
        listener.wait_for("READY=1")
        a.wait_log("reloaded users file")
        assert a.connect("bob", "bob-pw").connected
        # a broken file: the users already loaded stay
        users.write_text("bob:clear-text::admin\n")
        a.proc.send_signal(signal.SIGHUP)
        a.wait_log("not reloaded, keeping the previous one")
        assert a.connect("bob", "bob-pw").connected
        assert a.running
        a.stop()
        listener.wait_for("STOPPING=1")
    finally:
        listener.close()


def test_notify_protocol(tmp_path) -> None:
    assert service.notify("READY=1", env={}) is False
    assert service.notify("READY=1", env={"NOTIFY_SOCKET": "relative"}) is False
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"memif-agent-test-{os.getpid()}"
    s.bind("\0" + name)  # '@' in NOTIFY_SOCKET: the abstract namespace
    try:
        assert service.notify("READY=1\nSTATUS=x", env={"NOTIFY_SOCKET": "@" + name})
        assert s.recv(100) == b"READY=1\nSTATUS=x"
    finally:
        s.close()
    # the manager went away: not an error for the agent
    assert not service.notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "gone")})


def _parse_journal(datagram: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    while datagram:
        nl = datagram.index(b"\n")
        head = datagram[:nl]
        if b"=" in head:
            k, v = head.split(b"=", 1)
            datagram = datagram[nl + 1 :]
        else:
            (n,) = struct.unpack("<Q", datagram[nl + 1 : nl + 9])
            k, v = head, datagram[nl + 9 : nl + 9 + n]
            assert datagram[nl + 9 + n : nl + 10 + n] == b"\n"
            datagram = datagram[nl + 10 + n :]
        fields[k.decode()] = v.decode()
    return fields


def test_journal_native_protocol(tmp_path) -> None:
    import logging

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "journal.sock"))
    sock.settimeout(5)
    h = service.JournalHandler(str(tmp_path / "journal.sock"))
    h.setFormatter(logging.Formatter("%(message)s"))
    lg = logging.getLogger("memif-agent.test-journal")
    lg.propagate = False
    lg.addHandler(h)
    try:
        lg.warning("two\nlines")
        f = _parse_journal(sock.recv(65536))
        assert f["MESSAGE"] == "two\nlines" and f["PRIORITY"] == "4"
        assert f["SYSLOG_IDENTIFIER"] == "memif-agent" and f["CODE_FUNC"]
        lg.error("plain")
        assert _parse_journal(sock.recv(65536))["PRIORITY"] == "3"
    finally:
        lg.removeHandler(h)
        h.close()
        sock.close()
    # JOURNAL_STREAM must name our stderr to count
    st = os.fstat(sys.stderr.fileno())
    assert service.stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    assert not service.stderr_is_journal({"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino + 1}"})
    assert not service.stderr_is_journal({"JOURNAL_STREAM": "junk"})


def test_syslog_target(tmp_path) -> None:
    """--log-target syslog: RFC 3164 datagrams to the syslog socket, facility daemon."""
    path = tmp_path / "log.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(30)
    proc = subprocess.Popen(
        [
            *AGENT,
            "--port",
            "0",
            "--state-dir",
            str(tmp_path / "st"),
            "--no-dataplane",
            "--socket0",
            str(tmp_path / "s0.sock"),
            "--log-target",
            "syslog",
            "--syslog-socket",
            str(path),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        end = time.monotonic() + 30
        while True:
            assert time.monotonic() < end
            msg = sock.recv(4096).decode()
            if "listening on" in msg:
                break
        # <30>: facility daemon (3) * 8 + info (6)
        assert re.match(rf"<30>memif-agent\[{proc.pid}\]: INFO memif-agent: listening on ", msg)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
        sock.close()
    assert err == ""  # nothing went to stderr


def test_unit_file_verifies(tmp_path) -> None:
    """`make install` with PREFIX in a temporary directory, then systemd's own check
    of the installed unit (its ExecStart must exist and run --check-config)."""
    prefix = tmp_path / "prefix"
    r = subprocess.run(
        [
            "make",
            "-s",
            "install",
            f"PREFIX={prefix}",
            f"UNITDIR={prefix}/units",
            f"CONFDIR={prefix}/etc",
            "SYSTEMCTL=true",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    unit = prefix / "units" / "memif-agent.service"
    text = unit.read_text()
    assert f"ExecStart={prefix}/bin/memif-agent\n" in text and "Type=notify\n" in text
    assert (prefix / "etc" / "agent.toml").read_text() == (
        REPO / "tools" / "systemd" / "agent.toml"
    ).read_text()
    v = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert v.returncode == 0 and v.stderr == "", v.stderr
    r = subprocess.run(
        [
            str(prefix / "bin" / "memif-agent"),
            "--config",
            str(prefix / "etc" / "agent.toml"),
            "--state-dir",
            str(tmp_path / "st"),
            "--check-config",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
