"""Running as a system service: readiness notification, logging targets, SIGHUP.

- sd_notify: the service manager's NOTIFY_SOCKET datagram protocol (newline
  separated VAR=value assignments in one datagram), written here because it is
  a few lines and needs no library.
- Logging: to the journal's native socket when stderr is the journal
  (JOURNAL_STREAM names stderr's device and inode), to syslog when asked, else
  to stderr with timestamps.
- SIGHUP re-reads the users file, even if its size and time stamp did not change.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.handlers
import os
import signal
import socket
import struct
import sys
import time
from typing import Any

log = logging.getLogger("memif-agent")

JOURNAL_SOCKET = "/run/systemd/journal/socket"
SYSLOG_SOCKET = "/dev/log"
IDENT = "memif-agent"
LOG_TARGETS = ("auto", "stderr", "journal", "syslog")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-target",
        default="auto",
        choices=LOG_TARGETS,
        help="where logs go: auto = the journal when started by systemd with stderr"
        " to the journal, else stderr (default %(default)s)",
    )
    p.add_argument(
        "--syslog-socket",
        default=SYSLOG_SOCKET,
        help="syslog socket for --log-target syslog (default %(default)s)",
    )


# -- sd_notify ---------------------------------------------------------------------


def notify(state: str, env: dict[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1") to the service manager; False if not under one.

    Never raises: a service manager that went away must not take the agent down.
    """
    addr = (env if env is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not addr or addr[0] not in "/@":
        return False
    target = "\0" + addr[1:] if addr[0] == "@" else addr  # '@': abstract namespace
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
            s.sendto(state.encode(), target)
    except OSError as e:
        log.warning("cannot notify the service manager at %s: %s", addr, e)
        return False
    return True


def ready(status: str) -> None:
    notify(f"READY=1\nSTATUS={status}\nMAINPID={os.getpid()}")


def stopping() -> None:
    notify("STOPPING=1\nSTATUS=shutting down")


# -- logging -----------------------------------------------------------------------

_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def _priority(levelno: int) -> int:
    for level, prio in sorted(_PRIORITY.items(), reverse=True):
        if levelno >= level:
            return prio
    return 7


def _field(name: str, value: str) -> bytes:
    data = value.encode("utf-8", "replace")
    if b"\n" in data:
        # Native protocol: a value with newlines is NAME\n, 64-bit LE length, bytes.
        return name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
    return name.encode() + b"=" + data + b"\n"


class JournalHandler(logging.Handler):
    """Records as journald native-protocol datagrams (MESSAGE, PRIORITY, ...)."""

    def __init__(self, path: str = JOURNAL_SOCKET) -> None:
        super().__init__()
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            datagram = b"".join(
                (
                    _field("MESSAGE", msg),
                    _field("PRIORITY", str(_priority(record.levelno))),
                    _field("SYSLOG_IDENTIFIER", IDENT),
                    _field("LOGGER", record.name),
                    _field("CODE_FILE", record.pathname),
                    _field("CODE_LINE", str(record.lineno)),
                    _field("CODE_FUNC", record.funcName),
                )
            )
            self.sock.sendto(datagram, self.path)
        except OSError:
            # Too big for one datagram, or the journal is gone: stderr still
            # reaches the journal as a plain stream.
            sys.stderr.write(f"<{_priority(record.levelno)}>{record.getMessage()}\n")
        except Exception:
            self.handleError(record)

    def close(self) -> None:
        self.sock.close()
        super().close()


def stderr_is_journal(env: dict[str, str] | None = None) -> bool:
    """True when stderr is the stream the service manager connected to the journal."""
    value = (env if env is not None else os.environ).get("JOURNAL_STREAM", "")
    try:
        dev, ino = (int(x) for x in value.split(":"))
        st = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def configure_logging(opts: argparse.Namespace) -> str:
    """Install the root handler for opts.log_target; returns the target chosen."""
    target = getattr(opts, "log_target", "auto")
    if target == "auto":
        journal_ok = os.path.exists(JOURNAL_SOCKET)
        target = "journal" if journal_ok and stderr_is_journal() else "stderr"
    handler: logging.Handler
    if target == "journal":
        handler = JournalHandler()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    elif target == "syslog":
        handler = logging.handlers.SysLogHandler(
            address=getattr(opts, "syslog_socket", SYSLOG_SOCKET),
            facility=logging.handlers.SysLogHandler.LOG_DAEMON,
        )
        handler.ident = f"{IDENT}[{os.getpid()}]: "
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(opts.log_level.upper())
    return target


# -- SIGHUP ------------------------------------------------------------------------


def reload_users(users: Any) -> bool:
    """Re-read the users file now; on a bad file keep the users already loaded."""
    notify(f"RELOADING=1\nMONOTONIC_USEC={time.monotonic_ns() // 1000}")
    try:
        if users is None:
            log.warning("SIGHUP: no users file to reload")
            return False
        try:
            users.reload(force=True)
        except (OSError, ValueError) as e:
            log.error(
                "SIGHUP: users file %s not reloaded, keeping the previous one: %s", users.path, e
            )
            return False
        log.info("SIGHUP: reloaded users file %s (%d users)", users.path, len(users.all()))
        return True
    finally:
        notify("READY=1\nSTATUS=running")


def handle_sighup(loop: asyncio.AbstractEventLoop, users: Any) -> None:
    loop.add_signal_handler(signal.SIGHUP, reload_users, users)
