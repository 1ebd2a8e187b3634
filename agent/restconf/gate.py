"""Connections that have not yet made an authenticated request: at most
`limit` at once (OpenSSH MaxStartups style, as --max-startups bounds SSH), each
closed after `timeout` seconds (--login-timeout) unless one of its requests
logged in by then. Without this, idle TCP or TLS connections (slowloris) would
hold sockets for ever: aiohttp has no header-read timeout of its own.

The TLS handshake is bounded by the same timeout (asyncio's
ssl_handshake_timeout); a connection accepted beyond the limit is closed as
soon as it is made, before any request is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


class _Refused(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.close()


class PreAuthGate:
    def __init__(self, limit: int, timeout: float) -> None:
        self.limit = limit
        self.timeout = timeout
        self._pending: dict[Any, asyncio.TimerHandle] = {}
        self._last_log = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    def protocol(self, make: Any) -> asyncio.BaseProtocol:
        """The protocol for a new connection: `make()` (aiohttp's handler), or
        one that closes it at once when the gate is full."""
        if self.limit and len(self._pending) >= self.limit:
            now = time.monotonic()
            if now - self._last_log > 1.0:
                self._last_log = now
                log.warning(
                    "RESTCONF: %d connections without a login; closing new ones", self.limit
                )
            return _Refused()
        handler = make()
        loop = asyncio.get_running_loop()
        self._pending[handler] = loop.call_later(self.timeout, self._expire, handler)
        return handler

    def authenticated(self, handler: Any) -> None:
        timer = self._pending.pop(handler, None)
        if timer is not None:
            timer.cancel()

    def closed(self, handler: Any) -> None:
        self.authenticated(handler)

    def _expire(self, handler: Any) -> None:
        if self._pending.pop(handler, None) is None:
            return
        transport = getattr(handler, "transport", None)
        if transport is not None:
            transport.close()
        # (no transport: the TLS handshake is still on; its own timeout ends it)

    def close(self) -> None:
        for timer in self._pending.values():
            timer.cancel()
        self._pending.clear()
