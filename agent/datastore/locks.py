"""Datastore locks (RFC 6241 §7.5): one holder per datastore, gone with its session."""

from __future__ import annotations

import time

from agent.errors import RpcError

DATASTORES = ("running", "candidate", "startup")


class Locks:
    def __init__(self) -> None:
        self._held: dict[str, tuple[int, float]] = {}

    def holder(self, name: str) -> int | None:
        entry = self._held.get(name)
        return entry[0] if entry else None

    def lock_info(self, name: str) -> tuple[int, float] | None:
        """(session id, time locked) for RFC 6022 monitoring."""
        return self._held.get(name)

    def lock(self, name: str, session_id: int) -> None:
        holder = self.holder(name)
        if holder is not None:
            raise lock_denied(name, holder, "is already locked")
        self._held[name] = (session_id, time.time())

    def unlock(self, name: str, session_id: int) -> None:
        holder = self.holder(name)
        if holder is None:
            raise RpcError(
                "operation-failed", f"the {name} datastore is not locked", type="protocol"
            )
        if holder != session_id:
            raise lock_denied(name, holder, "is locked by another session")
        del self._held[name]

    def require_writable(self, name: str, session_id: int) -> None:
        """Writers other than the lock holder are refused (RFC 6241 §7.5)."""
        holder = self.holder(name)
        if holder is not None and holder != session_id:
            raise RpcError(
                "in-use",
                f"the {name} datastore is locked by session {holder}",
                type="protocol",
                info=[("session-id", str(holder))],
            )

    def release_session(self, session_id: int) -> list[str]:
        gone = [n for n, (sid, _t) in self._held.items() if sid == session_id]
        for n in gone:
            del self._held[n]
        return gone


def lock_denied(name: str, holder: int, why: str) -> RpcError:
    return RpcError(
        "lock-denied",
        f"the {name} datastore {why} (session {holder})",
        type="protocol",
        info=[("session-id", str(holder))],
    )
