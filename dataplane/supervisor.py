"""Keeps a dataplane process running for the agent.

A heartbeat (a ping through the Dataplane's lock every `heartbeat` seconds,
answered within `timeout`) finds a hung process; a pidfd finds one that
exited. A lost process is SIGKILLed if still there, `on_lost(reason)` runs,
and a new one is started after a back-off (`restart_delay`, 0.1 s by default,
doubling to 5 s; back to `restart_delay` once a process has lived 10 s).
`setup(dp, restarted)` prepares each new process before it is declared
running: a setup that fails counts as another loss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dataplane.remote import DataplaneLost, RemoteDataplane

log = logging.getLogger(__name__)

BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STABLE_AFTER = 10.0
START_TIMEOUT = 10.0


class Unavailable(Exception):
    """No dataplane process is running; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"dataplane unavailable: {reason}")
        self.reason = reason


class Supervisor:
    def __init__(
        self,
        setup: Callable[[RemoteDataplane, bool], Awaitable[None]],
        on_events: Callable[[list[dict]], None],
        on_lost: Callable[[str], None],
        heartbeat: float = 0.2,
        timeout: float = 1.0,
        app_name: str = "memif-agent",
        restart_delay: float = BACKOFF_FIRST,
        argv: list[str] | None = None,
    ) -> None:
        self.setup = setup
        self.on_events = on_events
        self.on_lost = on_lost
        self.heartbeat = heartbeat
        self.timeout = timeout
        self.app_name = app_name
        self.status = "stopped"  # stopped, starting, running, unavailable
        self.reason = ""
        self.restarts = 0
        self.dp: RemoteDataplane | None = None
        self._started: asyncio.Future | None = None
        self._tasks: set[asyncio.Task] = set()
        self.restart_delay = restart_delay
        self.argv = argv
        self._backoff = restart_delay
        self._since = 0.0
        self._closing = False

    @property
    def pid(self) -> int | None:
        return self.dp.pid if self.dp is not None else None

    async def start(self) -> None:
        """Start the first process (once; later calls wait for that one)."""
        if self._started is None:
            self._started = asyncio.get_running_loop().create_future()
            try:
                await self._spawn(restarted=False)
            except DataplaneLost as e:
                # Died or hung while starting: the agent serves NETCONF anyway
                # and the restart that _lost scheduled keeps trying.
                log.error("dataplane did not start: %s", e)
            except BaseException as e:
                self._started.set_exception(e)
                self._started.exception()
                raise
            self._started.set_result(None)
            self._run(self._heartbeat())
        await asyncio.shield(self._started)

    async def available(self) -> RemoteDataplane:
        """The running process, or Unavailable (after the first start, never waits)."""
        await self.start()
        if self.status != "running" or self.dp is None:
            raise Unavailable(self.reason or self.status)
        return self.dp

    async def close(self) -> None:
        self._closing = True
        for t in list(self._tasks):
            t.cancel()
        if self.dp is not None:
            await self.dp.close()
        self.status = "stopped"

    # -- internals ---------------------------------------------------------------------------

    def _run(self, coro: Awaitable[None]) -> None:
        t = asyncio.ensure_future(coro)
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _spawn(self, restarted: bool) -> None:
        self.status = "starting"
        dp = RemoteDataplane(self._events, self._lost, self.app_name, self.timeout, self.argv)
        self.dp = dp
        dp.start()
        try:
            # Python start-up and the import of _memif: slow on a loaded host,
            # and not a hang.
            await dp.ping(timeout=START_TIMEOUT)
            await self.setup(dp, restarted)
        except BaseException as e:
            if not restarted and not isinstance(e, DataplaneLost):
                # A setup error (socket 0 taken): the agent does not start.
                self._closing = True
            if dp.lost is None:
                dp.kill(f"setup failed: {e}")
            raise
        if dp.lost is not None:
            raise DataplaneLost(dp.lost)
        self.status = "running"
        self.reason = ""
        self._since = asyncio.get_running_loop().time()
        log.info("dataplane process %s running", dp.pid)

    def _events(self, events: list[dict]) -> None:
        self.on_events(events)

    def _lost(self, reason: str) -> None:
        was_running = self.status == "running"
        self.status = "unavailable"
        self.reason = reason
        if self._closing:
            return
        if was_running:
            self.on_lost(reason)
        if asyncio.get_running_loop().time() - self._since > STABLE_AFTER:
            self._backoff = self.restart_delay
        self._run(self._restart())

    async def _restart(self) -> None:
        delay = self._backoff
        self._backoff = min(max(self._backoff * 2, BACKOFF_FIRST), BACKOFF_MAX)
        log.warning("dataplane lost (%s): restarting in %.1f s", self.reason, delay)
        await asyncio.sleep(delay)
        if self._closing or self.status == "running":
            return
        reason = self.reason
        try:
            await self._spawn(restarted=True)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            # _lost already scheduled the next try if the process died; a setup
            # error with the process alive was killed above, which did the same.
            log.error("dataplane restart failed: %s", e)
            if self.status == "starting":
                self.status = "unavailable"
                self.reason = f"restart failed: {e}"
            return
        self.restarts += 1
        log.warning("dataplane restarted (was: %s)", reason)

    async def _heartbeat(self) -> None:
        while not self._closing:
            await asyncio.sleep(self.heartbeat)
            dp = self.dp
            if dp is None or dp.lost is not None or self.status != "running":
                continue
            try:
                await dp.ping(timeout=self.timeout)
            except DataplaneLost:
                pass  # dp reported it through _lost
            except Exception:
                log.exception("dataplane heartbeat")
