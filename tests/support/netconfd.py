"""yuma123 netconfd behind a private sshd, as a second NETCONF server to compare with.

    with Netconfd(workdir) as nc:
        m = ncclient.manager.connect(**nc.ncclient_kwargs())
        c = paramiko.SSHClient(); c.connect(**nc.paramiko_kwargs())
        conn = await asyncssh.connect(**nc.asyncssh_kwargs())

netconfd (Debian `netconfd`) loads yang/memif-agent.yang with the candidate and
startup datastores and no access control; it is reached the way its package
means it to be: sshd runs `netconf-subsystem`, which relays the session to
netconfd's unix socket. Everything is private to the instance: the sshd
listens on a free loopback port with its own host key, config, pid file and
authorized key (a fresh ed25519 key pair for root), netconfd has its own
socket, startup file (startup-cfg.xml, empty at first), HOME and log. Both must run as root:
sshd to switch users, and netconfd's superuser is root.

netconfd 2.13 loses an RPC that arrives right behind the client's <hello>
(the session then hangs waiting for its reply): a client that sends its first
RPC at once must wait HELLO_SETTLE seconds after its hello (ncclient, slower
to send its first RPC, did not hit it in tests/interop/test_netconfd.py).

On exit every process started here is terminated, including sshd's
per-connection children (they call setsid(), so they are found through their
parent chain rather than a process group).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "yang" / "memif-agent.yang"
NETCONFD = "/usr/sbin/netconfd"
SUBSYSTEM = "/usr/sbin/netconf-subsystem"
SSHD = "/usr/sbin/sshd"
NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"
START_TIMEOUT = 20.0
# Seconds between a client's <hello> and its first RPC (see above): 50 ms was
# enough in every try on a loaded 2-core machine.
HELLO_SETTLE = 0.2


def available() -> str | None:
    """None if netconfd can run here, else why not (for pytest.skip)."""
    for path in (NETCONFD, SUBSYSTEM, SSHD, shutil.which("ssh-keygen") or "ssh-keygen"):
        if not os.path.exists(path):
            return f"{path} is not installed (make deps installs netconfd and openssh-server)"
    if os.geteuid() != 0:
        return "netconfd behind sshd needs root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(root: int) -> list[int]:
    """Every live process whose parent chain reaches `root`, children first."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(b")") + 2 :].split()
        parent[int(entry)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid]
        found.extend(kids)
        frontier.extend(kids)
    return found[::-1]


class Netconfd:
    """A running netconfd reachable over SSH at (host, port) as `username`,
    authenticating with the private key at `key_filename`."""

    host = "127.0.0.1"
    username = "root"

    def __init__(
        self,
        workdir: Path | str | None = None,
        module: Path | str = MODULE,
        extra_args: tuple[str, ...] = (),
        log_level: str = "error",
    ) -> None:
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="netconfd-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.module = Path(module)
        self.extra_args = tuple(extra_args)
        self.log_level = log_level
        self.port = 0
        self.home = self.workdir / "home"
        self.sockname = str(self.workdir / "ncxserver.sock")
        self.key_filename = str(self.workdir / "client_ed25519")
        self.host_key = str(self.workdir / "host_ed25519")
        self.netconfd_log = self.workdir / "netconfd.log"
        self.startup = self.workdir / "startup-cfg.xml"
        self.sshd_log = self.workdir / "sshd.log"
        self.netconfd: subprocess.Popen | None = None
        self.sshd: subprocess.Popen | None = None

    # -- client parameters ------------------------------------------------------

    def ncclient_kwargs(self, **extra: Any) -> dict[str, Any]:
        return dict(
            host=self.host,
            port=self.port,
            username=self.username,
            key_filename=self.key_filename,
            hostkey_verify=False,
            allow_agent=False,
            look_for_keys=False,
            **extra,
        )

    def paramiko_kwargs(self, **extra: Any) -> dict[str, Any]:
        """For paramiko.SSHClient.connect (set a missing-host-key policy first)."""
        return dict(
            hostname=self.host,
            port=self.port,
            username=self.username,
            key_filename=self.key_filename,
            allow_agent=False,
            look_for_keys=False,
            **extra,
        )

    def asyncssh_kwargs(self, **extra: Any) -> dict[str, Any]:
        return dict(
            host=self.host,
            port=self.port,
            username=self.username,
            client_keys=[self.key_filename],
            known_hosts=None,
            agent_path=None,
            **extra,
        )

    # -- lifecycle ----------------------------------------------------------------

    def __enter__(self) -> Netconfd:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Netconfd:
        why = available()
        if why:
            raise RuntimeError(why)
        # --yuma-home: netconfd's transaction-id file goes to <home>/data
        # instead of the shared /root/.yuma.
        (self.home / "data").mkdir(parents=True, exist_ok=True)
        for key in (self.key_filename, self.host_key):
            if not os.path.exists(key):
                subprocess.run(
                    ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", key],
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
        authorized = self.workdir / "authorized_keys"
        authorized.write_bytes(Path(self.key_filename + ".pub").read_bytes())
        os.chmod(authorized, 0o600)
        try:
            for _attempt in range(5):
                # The port is free when picked but another process may take it
                # before sshd binds: pick again if sshd cannot listen.
                self.port = _free_port()
                if self._start_sshd():
                    break
            else:
                raise RuntimeError(f"sshd did not start: {self._tail(self.sshd_log)}")
            self._start_netconfd()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_netconfd(self) -> None:
        if os.path.exists(self.sockname):
            os.unlink(self.sockname)
        # Without --startup netconfd keeps startup in the invoking user's home
        # from the password database (/root/.yuma, shared by every instance and
        # read back at the next start), whatever HOME says; with --startup the
        # file must exist.
        if not self.startup.exists():
            self.startup.write_text(f'<config xmlns="{NC_NS}"/>\n')
        cmd = [
            NETCONFD,
            # netconfd accepts only sessions that the subsystem reports as
            # arriving on one of its --port values.
            f"--port={self.port}",
            f"--module={self.module}",
            "--target=candidate",
            "--with-startup=true",
            f"--startup={self.startup}",
            f"--yuma-home={self.home}",
            "--superuser=root",
            "--access-control=off",
            f"--ncxserver-sockname={self.sockname}",
            f"--log={self.netconfd_log}",
            f"--log-level={self.log_level}",
            *self.extra_args,
        ]
        env = dict(os.environ, HOME=str(self.home), USER="root")
        env.pop("YUMA_HOME", None)
        self.netconfd = subprocess.Popen(
            cmd,
            cwd=self.workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not os.path.exists(self.sockname):
            if self.netconfd.poll() is not None:
                raise RuntimeError(f"netconfd exited: {self._tail(self.netconfd_log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"netconfd did not listen: {self._tail(self.netconfd_log)}")
            time.sleep(0.02)

    def _start_sshd(self) -> bool:
        # sshd refuses to start without its privilege-separation directory.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        config = self.workdir / "sshd_config"
        config.write_text(
            "\n".join(
                [
                    f"Port {self.port}",
                    f"ListenAddress {self.host}",
                    f"HostKey {self.host_key}",
                    f"PidFile {self.workdir / 'sshd.pid'}",
                    f"AuthorizedKeysFile {self.workdir / 'authorized_keys'}",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "UsePAM no",
                    "StrictModes no",
                    "UseDNS no",
                    "PrintMotd no",
                    "X11Forwarding no",
                    "AllowTcpForwarding no",
                    # Benchmarks and tests open many sessions at once.
                    "MaxStartups 200",
                    "MaxSessions 200",
                    "LogLevel ERROR",
                    # PORT@SOCK: the subsystem relays sessions that arrived on
                    # PORT to SOCK (else to the system-wide /tmp/ncxserver.sock).
                    f"Subsystem netconf {SUBSYSTEM} "
                    f"--ncxserver-sockname={self.port}@{self.sockname}",
                    "",
                ]
            )
        )
        log = open(self.sshd_log, "ab")
        try:
            self.sshd = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(config)],
                cwd=self.workdir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.sshd.poll() is not None:
                self.sshd = None
                return False
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.settimeout(2)
                    if s.recv(4).startswith(b"SSH-"):
                        return True
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"sshd did not listen: {self._tail(self.sshd_log)}")

    def stop(self) -> None:
        for attr in ("sshd", "netconfd"):
            proc: subprocess.Popen | None = getattr(self, attr)
            if proc is None:
                continue
            pids = _descendants(proc.pid) if proc.poll() is None else []
            if proc.poll() is None:
                proc.terminate()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            deadline = time.monotonic() + 5
            for pid in pids:
                while _alive(pid) and time.monotonic() < deadline:
                    time.sleep(0.01)
                if _alive(pid):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            setattr(self, attr, None)
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def _tail(path: Path) -> str:
        try:
            return path.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"


def _alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :][:1] != b"Z"
