"""Who a request comes from: a verified TLS client certificate, or HTTP Basic
(RFC 7617) checked against the users file with the SSH logins' throttling.

HTTP has no sessions, so every request carries its password; checking scrypt
on each (tens of ms, in a thread) would make a poll of one interface cost
more than serving it. A password that passed is remembered for `ttl` seconds
as a keyed digest (never the password), tied to the stored hash it matched,
so a changed users file or password takes effect at once.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from agent.restconf.errors import RestconfError

MAX_CACHED = 1024


def unauthorized(message: str = "authentication required") -> RestconfError:
    return RestconfError(401, "access-denied", message, type="protocol")


def parse_basic(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an Authorization: Basic header; 401 if malformed."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise unauthorized(f"authentication scheme {scheme[:20]!r} is not supported: use Basic")
    if len(token) > 4096:
        raise unauthorized("credentials too long")
    try:
        text = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise unauthorized("malformed Basic credentials") from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise unauthorized("malformed Basic credentials")
    if any(ord(c) < 0x20 or c == "\x7f" for c in user):
        raise unauthorized("malformed Basic credentials")
    return user, password


class PasswordCache:
    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[str, tuple[bytes, str, float]] = OrderedDict()

    def _digest(self, user: str, password: str) -> bytes:
        return hmac.new(self._key, f"{user}\0{password}".encode(), hashlib.sha256).digest()

    def hit(self, user: str, password: str, stored: str | None) -> bool:
        entry = self._ok.get(user)
        if entry is None or stored is None:
            return False
        digest, hashed, until = entry
        if until < self.clock() or hashed != stored:
            self._ok.pop(user, None)
            return False
        return hmac.compare_digest(digest, self._digest(user, password))

    def remember(self, user: str, password: str, stored: str | None) -> None:
        if stored is None or self.ttl <= 0:
            return
        self._ok[user] = (self._digest(user, password), stored, self.clock() + self.ttl)
        self._ok.move_to_end(user)
        while len(self._ok) > MAX_CACHED:
            self._ok.popitem(last=False)


class Authenticator:
    def __init__(
        self,
        check: Callable[[str, str, str], Awaitable[bool]],
        stored_hash: Callable[[str], str | None],
        max_pending: int,
        ttl: float = 60.0,
    ) -> None:
        self.check = check
        self.stored_hash = stored_hash
        self.cache = PasswordCache(ttl)
        # Requests waiting on a password check at once (OpenSSH MaxStartups style).
        self.max_pending = max_pending
        self.pending = 0

    async def password(self, user: str, password: str, peer: str) -> str:
        stored = self.stored_hash(user)
        if self.cache.hit(user, password, stored):
            return user
        if self.max_pending and self.pending >= self.max_pending:
            raise RestconfError(
                503, "resource-denied", "too many logins in progress", type="protocol"
            )
        self.pending += 1
        try:
            ok = await self.check(user, password, peer)
        except asyncio.CancelledError:
            raise
        finally:
            self.pending -= 1
        if not ok:
            raise unauthorized("wrong user name or password")
        self.cache.remember(user, password, self.stored_hash(user))
        return user
