"""The memif socket files the agent may have created, kept in the state
directory, so that files left by an agent that was killed (a commit the
dataplane applied but running never recorded, a rollback at start-up) can be
removed at the next start.

A path is recorded before the dataplane may create it and forgotten once a
commit without it has been applied. At the first apply after start, recorded
paths that the configuration being applied does not list are removed if, and
only if, they are sockets nobody listens on: never a regular file, a
directory, a symlink, or another process's live socket.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import socket
import stat
from pathlib import Path

from agent.datastore import persist
from agent.errors import RpcError
from agent.memif.config import MemifConfig

log = logging.getLogger(__name__)


class SocketRecord:
    def __init__(self, path: Path, always: tuple[str, ...] = ()) -> None:
        self.path = path
        self.always = set(always)  # socket 0: an agent option, not configuration
        try:
            data = json.loads(path.read_text())
            self._paths = (
                {p for p in data if isinstance(p, str)} if isinstance(data, list) else set()
            )
        except (OSError, ValueError):
            self._paths = set()
        self._started = False

    def _wanted(self, cfg: MemifConfig) -> set[str]:
        return set(cfg.sockets.values()) - self.always

    def _save(self, paths: set[str]) -> None:
        persist.atomic_write(self.path, json.dumps(sorted(paths), indent=0).encode())
        self._paths = paths

    def reserve(self, cfg: MemifConfig) -> None:
        """Before the dataplane applies `cfg`: record its socket files (and, at the
        first apply, remove stale ones). A failure to save is operation-failed
        with nothing changed."""
        paths = self._paths
        if not self._started:
            self._started = True
            paths = paths - remove_stale(paths - self._wanted(cfg) - self.always)
        paths = paths | self._wanted(cfg)
        if paths == self._paths:
            return
        try:
            self._save(paths)
        except OSError as e:
            raise RpcError(
                "operation-failed",
                f"cannot save the socket file record ({self.path.name}): {e.strerror or e}",
            ) from None

    def settle(self, cfg: MemifConfig) -> None:
        """After `cfg` was applied: forget the files the dataplane has removed."""
        paths = self._wanted(cfg)
        if paths != self._paths:
            try:
                self._save(paths)
            except OSError as e:
                # A longer record is harmless: only stale sockets are ever removed.
                log.warning("cannot save the socket file record %s: %s", self.path, e)


def remove_stale(paths: set[str]) -> set[str]:
    """Remove each path that is a socket nobody listens on; returns the paths
    dealt with (removed, gone, or not a socket: no longer ours to record)."""
    done = set()
    for p in sorted(paths):
        try:
            st = os.lstat(p)
        except FileNotFoundError:
            done.add(p)
            continue
        except OSError as e:
            log.warning("stale socket check of %s: %s", p, e)
            continue
        if not stat.S_ISSOCK(st.st_mode):
            log.warning("%s was a memif socket file and now is not a socket: left alone", p)
            done.add(p)
            continue
        if not _nobody_listens(p):
            log.warning("%s: a process listens on it: left alone", p)
            done.add(p)
            continue
        try:
            os.unlink(p)
        except OSError as e:
            log.warning("cannot remove stale memif socket file %s: %s", p, e)
            continue
        log.info("removed stale memif socket file %s (not in the configuration)", p)
        done.add(p)
    return done


def _nobody_listens(path: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.setblocking(False)
    try:
        s.connect(path)
    except OSError as e:
        return e.errno == errno.ECONNREFUSED
    finally:
        s.close()
    return False
