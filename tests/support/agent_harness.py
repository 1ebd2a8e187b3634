"""pytest fixtures that run the real agent as a subprocess (team contract, brief).

    def test_x(agent):                 # started with a tmp state dir, socket0 under tmp
        with agent.connect() as m:     # ncclient manager over real SSH (admin/admin)
            m.get_config("running")

    def test_y(start_agent, tmp_path):
        a = start_agent(tmp_path, "--no-dataplane")

The agent is started with --port 0 and the port is read from its log line
"listening on ADDR:PORT"; restarts reuse that port so clients reconnect to
the same address.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from lxml import etree

from agent.netconf.framing import Framer

REPO = Path(__file__).resolve().parents[2]
_LISTEN_RE = re.compile(r"listening on (\S+):(\d+)")
_RESTCONF_RE = re.compile(r"RESTCONF on (https?)://\S+:(\d+)")
START_TIMEOUT = 30.0


class AgentProcess:
    def __init__(self, workdir: Path, *extra_args: str) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_dir = self.workdir / "state"
        self.socket0 = str(self.workdir / "memif0.sock")
        self.log_path = self.workdir / "agent.log"
        self.extra_args = list(extra_args)
        self.port = 0
        self.restconf_port = 0  # with --restconf-port: the port it serves on
        self.proc: subprocess.Popen | None = None
        self._managers: list = []
        self._log_offset = 0

    # -- lifecycle ---------------------------------------------------------------

    def command(self) -> list[str]:
        args = [
            sys.executable,
            "-m",
            "agent.main",
            "--address",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--state-dir",
            str(self.state_dir),
            "--socket0",
            self.socket0,
        ]
        if "--log-level" not in self.extra_args:
            args += ["--log-level", "info"]
        extra = list(self.extra_args)
        if self.restconf_port and "--restconf-port" in extra:
            # A restart serves RESTCONF where it did before, as SSH.
            extra[extra.index("--restconf-port") + 1] = str(self.restconf_port)
        return args + extra

    def start(self) -> AgentProcess:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("agent already running")
        log = open(self.log_path, "ab")
        self._log_offset = log.tell()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            self.command(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            new = self._new_log()
            m = _LISTEN_RE.search(new)
            r = _RESTCONF_RE.search(new)
            if m and (r or "--restconf-port" not in self.extra_args):
                self.port = int(m.group(2))
                if r:
                    self.restconf_port = int(r.group(2))
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"agent exited with {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.02)
        self.kill()
        raise RuntimeError(f"agent did not start within {START_TIMEOUT}s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM and wait; returns the exit code."""
        self._close_managers()
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"agent ignored SIGTERM for {timeout}s:\n{self.log()}") from None

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self._close_managers(polite=False)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> AgentProcess:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- clients -----------------------------------------------------------------

    def connect(self, username: str = "admin", password: str | None = "admin", **kw):
        from ncclient import manager

        args = dict(
            host="127.0.0.1",
            port=self.port,
            username=username,
            password=password,
            hostkey_verify=False,
            allow_agent=False,
            look_for_keys=False,
            timeout=30,
        )
        args.update(kw)
        m = manager.connect(**args)
        self._managers.append(m)
        return m

    def _close_managers(self, polite: bool = True) -> None:
        for m in self._managers:
            try:
                if polite and m.connected:
                    m.close_session()
            except Exception:
                pass
            try:
                m._session.close()
            except Exception:
                pass
        self._managers.clear()

    # -- logs ----------------------------------------------------------------------

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, needle: str, timeout: float = 5.0) -> str:
        """The log once it holds `needle`: the agent may log a line just after its
        reply reaches the client (close-session answers first, then closes)."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            if needle in text:
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not logged within {timeout}s:\n{text}")
            time.sleep(0.01)

    def _new_log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_offset)
                return f.read().decode(errors="replace")
        except FileNotFoundError:
            return ""


# -- raw NETCONF over SSH, for framing and hostile-input tests ------------------------

_NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
HELLO11 = (
    b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    b"<capability>urn:ietf:params:netconf:base:1.0</capability>"
    b"<capability>urn:ietf:params:netconf:base:1.1</capability>"
    b"</capabilities></hello>]]>]]>"
)
HELLO10 = HELLO11.replace(b"<capability>urn:ietf:params:netconf:base:1.1</capability>", b"")


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str):
    """A tmpfs of `size` mounted at `path` (created) for the block: a disk that fills
    up for real. Skips the test where mounting is not allowed."""
    path.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def wait_until(cond, timeout: float = 20.0, what: str = "condition", step: float = 0.02):
    """Polls `cond` until it returns something true, and returns that; fails the test
    after `timeout` seconds. Waiting for the condition, never a fixed sleep."""
    end = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(step)


def chunk(msg: bytes) -> bytes:
    return b"\n#%d\n%s\n##\n" % (len(msg), msg)


def rpc(body: bytes, mid) -> bytes:
    return b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s">%s</rpc>' % (
        str(mid).encode(),
        body,
    )


class Raw:
    """A raw NETCONF session over SSH (asyncssh): write any bytes, read framed messages.

    For framing and hostile-input tests: `await Raw.open(agent.port)`, then
    `send(msg)` (framed per the negotiated base), `writer.write(raw_bytes)`,
    `await read()`, `await call(body, mid)`, `await closed()`.
    """

    def __init__(self, conn, writer, reader, chunked):
        self.conn, self.writer, self.reader = conn, writer, reader
        self.framer = Framer()
        self.pending: list[bytes] = []
        self.session_id = None
        self._chunked = chunked

    @classmethod
    async def open(cls, port, hello=HELLO11, username="admin", password="admin", **kw):
        import asyncssh

        conn = await asyncssh.connect(
            "127.0.0.1",
            port,
            username=username,
            password=password,
            known_hosts=None,
            client_keys=kw.pop("client_keys", None),
            **kw,
        )
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        self = cls(conn, writer, reader, b"base:1.1" in hello)
        server_hello = await self.read()
        self.session_id = etree.fromstring(server_hello).findtext(f"{{{_NC}}}session-id")
        if hello:
            writer.write(hello)
        if self._chunked:
            self.framer.set_chunked()
        return self

    async def read(self, timeout=10.0) -> bytes:
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise EOFError("session closed")
            self.pending += self.framer.messages(data)
        return self.pending.pop(0)

    async def call(self, body: bytes, mid=1) -> etree._Element:
        self.send(rpc(body, mid))
        return etree.fromstring(await self.read())

    def send(self, msg: bytes) -> None:
        self.writer.write(chunk(msg) if self._chunked else msg + b"]]>]]>")

    async def closed(self, timeout=10.0) -> bool:
        """True once the agent ends the session (EOF), False if it is still open after timeout."""
        import asyncssh

        try:
            while True:
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    return True
        except TimeoutError:
            return False
        except (ConnectionError, asyncssh.Error):
            return True

    def close(self):
        self.conn.close()


def arun(coro, timeout: float = 60):
    """Run a coroutine from a sync test, bounded in time."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def start_agent():
    """start_agent(tmp_path, *extra_args) -> started AgentProcess, stopped at teardown."""
    started: list[AgentProcess] = []

    def _start(workdir: Path, *extra_args: str) -> AgentProcess:
        a = AgentProcess(workdir, *extra_args)
        started.append(a)
        return a.start()

    yield _start
    for a in started:
        try:
            a.stop()
        except Exception:
            a.kill()


@pytest.fixture
def agent(tmp_path, start_agent):
    return start_agent(tmp_path / "agent")
