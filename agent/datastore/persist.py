"""Crash-safe files: a datastore on disk is always the old or the new version.

write temp in the same directory, fsync it, rename over the target, fsync the
directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

# fsync of a staged file runs here while the caller goes on (a commit applies
# it to the dataplane meanwhile); the GIL is released during fsync.
_fsyncs = ThreadPoolExecutor(max_workers=2, thread_name_prefix="fsync")

# What this process has made durable at each path (renamed and its directory
# fsynced), with the file's identity then: an identical write of an unchanged
# file is skipped (an empty commit costs no fsync).
_durable: dict[Path, tuple[bytes, tuple[int, int, int]]] = {}
_durable_lock = threading.Lock()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    Staged(path, data, mode, background=False).commit()


class Staged:
    """A file written in full to a temp file but not yet in place: what can
    fail for lack of space or permissions fails here (at write), before the
    caller changes anything else. Its fsync runs in a worker thread; commit()
    waits for it, renames and fsyncs the directory, and raises what either
    fsync raised; abort() drops the temp file.

    `data` equal to what this process last made durable at `path`, with the
    file unchanged since, stages nothing and commits nothing."""

    def __init__(self, path: Path, data: bytes, mode: int = 0o600, background: bool = True) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        self._fd = -1
        self._synced: Future[None] | None = None
        with _durable_lock:
            known = _durable.get(path)
        self.unchanged = known is not None and known[0] == data and known[1] == _identity(path)
        if self.unchanged:
            return
        self._data = data
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if not background:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise
        self._fd = fd
        if background:
            try:
                self._synced = _fsyncs.submit(os.fsync, fd)
            except RuntimeError:  # the interpreter is shutting down: no workers
                self._synced = None
                self._fsync_now()

    def _fsync_now(self) -> None:
        try:
            os.fsync(self._fd)
        except BaseException:
            os.close(self._fd)
            self._fd = -1
            self.tmp.unlink(missing_ok=True)
            raise

    def _close(self) -> None:
        """Waits for the fsync (and raises its error), then closes the temp file."""
        try:
            if self._synced is not None:
                self._synced.result()
        finally:
            self._synced = None
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def commit(self) -> None:
        if self.unchanged:
            return
        try:
            self._close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        with _durable_lock:
            _durable.pop(self.path, None)
        fsync_dir(self.path.parent)
        identity = _identity(self.path)
        if identity is not None:
            with _durable_lock:
                _durable[self.path] = (self._data, identity)

    def abort(self) -> None:
        if self.unchanged:
            return
        synced, fd = self._synced, self._fd
        self._synced, self._fd = None, -1
        if synced is not None and not synced.done():
            # Not worth waiting for (the caller is failing a commit): the fd is
            # closed when the fsync returns.
            synced.add_done_callback(lambda _f: os.close(fd))
        elif fd >= 0:
            os.close(fd)
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a temp file left over is rewritten by the next write


def atomic_remove(path: Path) -> None:
    with _durable_lock:
        _durable.pop(path, None)
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
