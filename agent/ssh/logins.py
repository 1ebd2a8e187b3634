"""Password-guessing budget: per user name and per source address, held across
connections, so parallel connections do not multiply the guess rate.

Each key (a user name, known or not, and an address) has its recent failures.
A failure is answered after `delay(failures)`; while a key has failures its
attempts run one at a time, each starting no sooner than that delay after the
previous one, on whichever connection; without failures a few may run at once
(parallel logins of scripts). After `max_failures` failures
within `window` seconds a key is locked out for `lockout` seconds: attempts on
it are refused without checking the password. Unknown user names are treated
exactly like known ones, so neither timing nor lock-outs tell which exist.

`LoginGuard` is pure bookkeeping with an injectable clock; `check_password`
awaits its waits and checks one password for each front end (SSH, RESTCONF),
so both throttle, time and log failures alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.ssh.users import dummy_hash, verify_password

log = logging.getLogger(__name__)

# Concurrent password checks per key while it has no recent failure.
BURST = 4
# How often a queued attempt looks again while others of its key are checked.
POLL = 0.05
# Keys remembered at most: a spray of user names or addresses cannot grow memory.
MAX_KEYS = 20_000


@dataclass
class _Key:
    failures: deque = field(default_factory=deque)
    next_start: float = 0.0
    locked_until: float = 0.0
    in_flight: int = 0


class LoginGuard:
    def __init__(
        self,
        step: float = 0.5,
        cap: float = 5.0,
        window: float = 60.0,
        max_failures: int = 10,
        lockout: float = 300.0,
        max_wait: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.step, self.cap, self.window = step, cap, window
        self.max_failures, self.lockout, self.max_wait = max_failures, lockout, max_wait
        self.clock = clock
        self._keys: dict[tuple[str, str], _Key] = {}

    def _key(self, kind: str, name: str) -> _Key:
        k = self._keys.get((kind, name))
        if k is None:
            if len(self._keys) >= MAX_KEYS:
                self._forget_idle()
            k = self._keys[(kind, name)] = _Key()
        return k

    def _forget_idle(self) -> None:
        now = self.clock()
        for name, k in list(self._keys.items()):
            self._expire(k, now)
            if not k.failures and k.locked_until <= now and k.in_flight == 0:
                del self._keys[name]
        if len(self._keys) >= MAX_KEYS:  # all busy: a flood; start over rather than grow
            self._keys = {n: k for n, k in self._keys.items() if k.in_flight}

    def _expire(self, k: _Key, now: float) -> None:
        while k.failures and now - k.failures[0] > self.window:
            k.failures.popleft()

    def delay(self, failures: int) -> float:
        return min(self.step * failures, self.cap)

    def admit(self, user: str, addr: str) -> float | None:
        """0.0 if this attempt's password may be checked now (it must then end
        with failed(), succeeded() or release()); else seconds after which to
        ask again; None if refused (a key is locked out)."""
        now = self.clock()
        keys = (self._key("user", user), self._key("addr", addr))
        wait = 0.0
        for k in keys:
            self._expire(k, now)
            if k.locked_until > now:
                return None
            if k.failures:
                # One at a time, spaced by the back-off.
                if k.in_flight:
                    wait = max(wait, POLL)
                wait = max(wait, k.next_start - now)
            elif k.in_flight >= BURST:
                wait = max(wait, POLL)
        if wait > 0:
            return wait
        for k in keys:
            k.in_flight += 1
        return 0.0

    def failed(self, user: str, addr: str) -> tuple[float, list[str]]:
        """Record a failed attempt: (seconds to wait before answering it, a
        description of each key it locks out)."""
        now = self.clock()
        locked = []
        pause = 0.0
        for kind, name in (("user", user), ("addr", addr)):
            k = self._key(kind, name)
            k.in_flight = max(0, k.in_flight - 1)
            self._expire(k, now)
            k.failures.append(now)
            pause = max(pause, self.delay(len(k.failures)))
            k.next_start = max(k.next_start, now + self.delay(len(k.failures)))
            if self.max_failures and len(k.failures) >= self.max_failures:
                k.locked_until = now + self.lockout
                k.failures.clear()
                what = f"user {name!r}" if kind == "user" else f"address {name}"
                locked.append(what)
        return pause, locked

    def succeeded(self, user: str, addr: str) -> None:
        for kind, name in (("user", user), ("addr", addr)):
            k = self._key(kind, name)
            k.in_flight = max(0, k.in_flight - 1)
            k.failures.clear()
            k.next_start = 0.0

    def release(self, user: str, addr: str) -> None:
        """An admitted attempt that ended without an answer (connection lost)."""
        for kind, name in (("user", user), ("addr", addr)):
            k = self._keys.get((kind, name))
            if k is not None:
                k.in_flight = max(0, k.in_flight - 1)


async def check_password(
    guard: LoginGuard, users: Any, username: str, password: str, peer: str, via: str
) -> bool:
    """Whether `password` is `username`'s (`users`: a UserDB, or None), after the
    guard's waits; a failure is answered after its pause. `via` names the front
    end in the log."""
    who = username[:64]
    waited = 0.0
    while (wait := guard.admit(username, peer)) and waited <= guard.max_wait:
        await asyncio.sleep(wait)
        waited += wait
    if wait is None or wait:
        # Locked out, or queued so long that the login would time out: refused
        # without looking at the password, after a pause that keeps a client
        # from turning refusals into a fast loop.
        log.debug("login for user %r from %s refused: too many failures", who, peer)
        await asyncio.sleep(guard.step)
        return False
    try:
        user = users.get(username) if users is not None else None
        stored = user.password_hash if user is not None else None
        # The same scrypt work for an unknown user (or one without a password)
        # as for a known one: failures take the same time. scrypt takes tens of
        # milliseconds: keep it off the event loop.
        ok = await asyncio.to_thread(verify_password, stored or dummy_hash(), password)
        ok = ok and stored is not None
    except BaseException:
        guard.release(username, peer)
        raise
    if ok:
        guard.succeeded(username, peer)
        return True
    pause, locked = guard.failed(username, peer)
    for what in locked:
        log.warning(
            "login lock-out: %s after %d failed logins within %.0fs; "
            "password logins refused for %.0fs",
            what,
            guard.max_failures,
            guard.window,
            guard.lockout,
        )
    log.warning("failed login for user %r from %s (%s); answering in %.1fs", who, peer, via, pause)
    await asyncio.sleep(pause)
    return False
