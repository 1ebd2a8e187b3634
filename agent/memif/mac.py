"""Generated MAC addresses that stay the same across commits and restarts.

An ethernet interface without a configured mac-address gets a random locally
administered 02:fe:xx:xx:xx:xx once; the choice is kept in the state directory
so a peer never sees the address change under it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agent.datastore import persist
from agent.errors import RpcError
from agent.memif.config import MemifConfig


class MacStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._macs: dict[str, str] = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            self._macs = {}
        self._dirty = False

    def get(self, socket_id: int, if_id: int) -> str:
        key = f"{socket_id}/{if_id}"
        mac = self._macs.get(key)
        if mac is None:
            taken = set(self._macs.values())
            while mac is None or mac in taken:
                mac = "02:fe:" + ":".join(f"{b:02x}" for b in os.urandom(4))
            self._macs[key] = mac
            self._dirty = True
        return mac

    def reserve(self, cfg: MemifConfig) -> None:
        """Choose and save the address of every ethernet interface of `cfg` without
        a configured one, before the dataplane is touched: a disk that cannot take
        the file fails the commit while nothing has changed (operation-failed),
        and the choices not saved are forgotten so a later try makes them anew."""
        before = dict(self._macs)
        for itf in cfg.interfaces.values():
            if itf.mode == "ethernet" and itf.mac_address is None:
                self.get(itf.socket_id, itf.id)
        try:
            self.save()
        except OSError as e:
            self._macs, self._dirty = before, False
            raise RpcError(
                "operation-failed",
                f"cannot save the generated MAC addresses ({self.path.name}): {e.strerror or e}",
            ) from None

    def save(self) -> None:
        """Write new addresses once per transaction, not one fsync per interface."""
        if self._dirty:
            persist.atomic_write(self.path, json.dumps(self._macs, indent=0).encode())
            self._dirty = False
