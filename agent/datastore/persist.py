"""Crash-safe files: a datastore on disk is always the old or the new version.

write temp in the same directory, fsync it, rename over the target, fsync the
directory so the rename itself survives a power cut.
"""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    Staged(path, data, mode).commit()


class Staged:
    """A file written in full (temp file, fsync) but not yet in place: what can
    fail for lack of space or permissions fails here, before the caller changes
    anything else; commit() then only renames, abort() drops the temp file."""

    def __init__(self, path: Path, data: bytes, mode: int = 0o600) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.tmp")
        fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            self.tmp.unlink(missing_ok=True)
            raise
        os.close(fd)

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.abort()
            raise
        fsync_dir(self.path.parent)

    def abort(self) -> None:
        try:
            self.tmp.unlink(missing_ok=True)
        except OSError:
            pass  # a temp file left over is rewritten by the next write


def atomic_remove(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
