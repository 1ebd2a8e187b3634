"""The agent's handle on one dataplane process (dataplane.service).

RemoteDataplane spawns the process, sends it control calls over a socketpair
and awaits the replies with a timeout, so no call blocks the event loop. The
process is not trusted: every reply is bounded by the codec and checked by
dataplane.control_replies. The first of these ends the process's life, and
on_lost(reason) is called once with why:

- it exits or is killed (seen through a pidfd): "crashed: killed by SIGSEGV";
- it closes the channel or sends a malformed frame or reply;
- a call (the supervisor's heartbeat is one) gets no reply in time: the
  process is taken as hung and SIGKILLed.

Lifecycle policy (heartbeat, restarts) is dataplane.supervisor's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from dataplane import control_codec as cc
from dataplane import control_replies as check
from dataplane.state_blob import BadBlob, StateText, from_wire

log = logging.getLogger(__name__)

# How long an exited process's pidfd may lag the EOF on its channel.
EXIT_GRACE = 0.5
# Calls per batch round trip (the service's MAX_BATCH).
BATCH = 256
# Writes queued for a process that does not read: past this it is hung.
MAX_QUEUED = 4 * 1024 * 1024


# A blob this big (~2,000 interfaces) is formatted off the event loop.
BIG_BLOB = 256 * 1024


def _bytes(v: Any) -> bytes:
    if not isinstance(v, bytes):
        raise check.BadReply("state blob is not bytes")
    return v


class DataplaneLost(Exception):
    """The dataplane process is gone (or was given up on) before replying."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"dataplane lost: {reason}")
        self.reason = reason


class RemoteError(Exception):
    """A call failed inside the dataplane process (not a MemifError)."""


def exit_reason(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"crashed: killed by {name}"
    return f"exited with status {returncode}"


class RemoteDataplane:
    def __init__(
        self,
        on_events: Callable[[list[dict]], None],
        on_lost: Callable[[str], None],
        app_name: str = "memif-agent",
        timeout: float = 1.0,
        argv: list[str] | None = None,
    ) -> None:
        self.on_events = on_events
        # The program to run; --fd, --parent and --app-name are appended.
        self.argv = argv or [sys.executable, "-m", "dataplane.service"]
        self.on_lost = on_lost
        self.app_name = app_name
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.lost: str | None = None
        self._sock: socket.socket | None = None
        self._pidfd = -1
        self._decoder = cc.Decoder()
        self._pending: dict[int, asyncio.Future] = {}
        self._next_id = 1
        self._out = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exit_timer: asyncio.TimerHandle | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self) -> None:
        """Spawn the process; calls may be sent at once (they queue in the socket)."""
        self._loop = asyncio.get_running_loop()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.proc = subprocess.Popen(
                [
                    *self.argv,
                    "--fd",
                    str(theirs.fileno()),
                    "--parent",
                    str(os.getpid()),
                    "--app-name",
                    self.app_name,
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                start_new_session=False,
            )
        except BaseException:
            mine.close()
            raise
        finally:
            theirs.close()
        mine.setblocking(False)
        self._sock = mine
        self._pidfd = os.pidfd_open(self.proc.pid)
        self._loop.add_reader(self._pidfd, self._exited)
        self._loop.add_reader(mine.fileno(), self._readable)

    # -- calls -------------------------------------------------------------------------------

    async def call(
        self,
        method: str,
        *args: Any,
        timeout: float | None = None,
        check_result: Callable[[Any], Any] = check.clean,
        hang_is_fatal: bool = True,
        **kwargs: Any,
    ) -> Any:
        """The call's checked result. A call unanswered within `timeout` (default
        the process's) takes the process as hung and kills it, unless
        `hang_is_fatal` is False: then only this call fails, with TimeoutError."""
        if self.lost is not None:
            raise DataplaneLost(self.lost)
        assert self._loop is not None
        rid = self._next_id
        self._next_id = rid + 1 if rid < 0xFFFFFFFF else 1
        fut = self._loop.create_future()
        self._pending[rid] = fut
        self._write(
            cc.encode(cc.REQUEST, rid, {"method": method, "args": list(args), "kwargs": kwargs})
        )
        limit = self.timeout if timeout is None else timeout
        try:
            kind, value = await asyncio.wait_for(asyncio.shield(fut), limit)
        except TimeoutError:
            if not hang_is_fatal:
                raise
            self.kill(f"hung: no reply to {method} within {limit:g} s")
            raise DataplaneLost(self.lost or "hung") from None
        finally:
            self._pending.pop(rid, None)
        if kind == cc.ERROR:
            raise _remote_error(value)
        try:
            return check_result(value)
        except check.BadReply as e:
            self._give_up(f"bad reply to {method}: {e}")
            raise DataplaneLost(self.lost or str(e)) from None

    async def add_socket(self, socket_id: int, filename: str, **kw: Any) -> None:
        await self.call("add_socket", socket_id, filename, check_result=check.none, **kw)

    async def remove_socket(self, socket_id: int) -> None:
        await self.call("remove_socket", socket_id, check_result=check.none)

    async def add_interface(self, socket_id: int, if_id: int, **kw: Any) -> None:
        await self.call("add_interface", socket_id, if_id, check_result=check.none, **kw)

    async def remove_interface(self, socket_id: int, if_id: int) -> None:
        await self.call("remove_interface", socket_id, if_id, check_result=check.none)

    async def set_enabled(self, socket_id: int, if_id: int, up: bool) -> None:
        await self.call("set_enabled", socket_id, if_id, up, check_result=check.none)

    async def set_xconnect(self, a: tuple[int, int], b: tuple[int, int] | None) -> None:
        await self.call("set_xconnect", list(a), list(b) if b else None, check_result=check.none)

    async def batch(
        self, calls: list[tuple[str, list, dict]], stop_on_error: bool = True
    ) -> list[Exception | None]:
        """Runs the calls in order in as few round trips as the process allows;
        one entry per call run (None, or the exception it raised). With
        `stop_on_error` the list ends at the first failure."""
        out: list[Exception | None] = []
        for i in range(0, len(calls), BATCH):
            chunk = [[m, list(a), k] for m, a, k in calls[i : i + BATCH]]
            results = await self.call(
                "batch", chunk, stop_on_error=stop_on_error, check_result=_batch_result(len(chunk))
            )
            for r in results:
                out.append(None if r is None else _remote_error(r))
            if stop_on_error and out and out[-1] is not None:
                break
        return out

    async def state(self, timeout: float | None = None) -> dict:
        """Raises TimeoutError (and leaves hang detection to the heartbeat) when
        the process does not answer within `timeout`."""
        return await self.call(
            "state", timeout=timeout, check_result=check.state, hang_is_fatal=False
        )

    async def state_blob(
        self, timeout: float | None = None, tags: tuple[Any, Any] = ("socket", "interface")
    ) -> StateText:
        """state() as text for <get> (dataplane.state_blob), keyed by `tags` (a
        socket's and an interface's); times out as state()."""
        blob = await self.call(
            "state_blob", timeout=timeout, check_result=_bytes, hang_is_fatal=False
        )
        try:
            if len(blob) < BIG_BLOB:
                return from_wire(blob, *tags)  # ~1 ms per 1,000 interfaces
            # Formatting releases the GIL: in a thread, the loop serves others meanwhile.
            return await asyncio.to_thread(from_wire, blob, *tags)
        except BadBlob as e:
            self._give_up(f"bad reply to state_blob: {e}")
            raise DataplaneLost(self.lost or str(e)) from None

    async def interface_state(self, socket_id: int, if_id: int) -> dict:
        return await self.call("interface_state", socket_id, if_id, check_result=check.interface)

    async def ping(self, timeout: float | None = None) -> None:
        await self.call("ping", timeout=timeout)

    # -- end of life -------------------------------------------------------------------------

    def kill(self, reason: str) -> None:
        """SIGKILL the process and report it lost for `reason`."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        self._give_up(reason)

    async def close(self, timeout: float = 2.0) -> None:
        """Closing the channel asks the process to close its Dataplane (which
        removes its socket files) and exit; it is killed if it does not."""
        self.lost = self.lost or "closed by the agent"
        self._detach()
        proc = self.proc
        if proc is None:
            return
        deadline = asyncio.get_running_loop().time() + timeout
        while proc.poll() is None and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        self._close_pidfd()

    def _give_up(self, reason: str) -> None:
        if self.lost is not None:
            return
        self.lost = reason
        self._detach()
        if self.proc is not None and self.proc.poll() is None:
            # Whatever made us give up, a half-alive process must not keep the
            # socket files or the peers' rings.
            try:
                self.proc.kill()
            except OSError:
                pass
        log.warning("dataplane process %s lost: %s", self.pid, reason)
        self.on_lost(reason)

    def _detach(self) -> None:
        loop = self._loop
        if self._exit_timer is not None:
            self._exit_timer.cancel()
            self._exit_timer = None
        if self._sock is not None:
            if loop is not None:
                loop.remove_reader(self._sock.fileno())
                loop.remove_writer(self._sock.fileno())
            self._sock.close()
            self._sock = None
        err = DataplaneLost(self.lost or "closed")
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
                fut.exception()  # retrieved: a caller that timed out is not told twice
        self._pending.clear()

    def _exited(self) -> None:
        """The pidfd is readable: the process has exited. Reaped here whether or
        not it was already given up on (a killed one must not stay a zombie)."""
        assert self.proc is not None
        rc = self.proc.poll()
        if rc is None:  # readable pidfd: exited, so this wait does not block
            rc = self.proc.wait()
        self._close_pidfd()
        self._give_up(exit_reason(rc))

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            if self._loop is not None:
                self._loop.remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = -1

    # -- I/O ---------------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._out += data
        self._flush()

    def _flush(self) -> None:
        sock, loop = self._sock, self._loop
        if sock is None or loop is None:
            return
        try:
            while self._out:
                n = sock.send(self._out)
                del self._out[:n]
        except BlockingIOError:
            if len(self._out) > MAX_QUEUED:
                self.kill("hung: does not read its control channel")
                return
            loop.add_writer(sock.fileno(), self._flush)
            return
        except OSError as e:
            self._channel_closed(f"control channel: {e.strerror or e}")
            return
        loop.remove_writer(sock.fileno())

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            data = sock.recv(1 << 16)
        except BlockingIOError:
            return
        except OSError as e:
            self._channel_closed(f"control channel: {e.strerror or e}")
            return
        if not data:
            self._channel_closed("closed its control channel")
            return
        try:
            frames = self._decoder.feed(data)
        except cc.ProtocolError as e:
            self._give_up(f"protocol error: {e}")
            return
        for f in frames:
            if f.kind == cc.EVENTS:
                try:
                    events = check.events(f.body.get("events"))
                except check.BadReply as e:
                    self._give_up(f"bad events: {e}")
                    return
                self.on_events(events)
                continue
            fut = self._pending.get(f.id)
            if fut is None or fut.done():
                continue  # a reply to a call that timed out or was never made
            if f.kind in (cc.REPLY, cc.BYTES) and "result" in f.body:
                fut.set_result((cc.REPLY, f.body["result"]))
            elif f.kind == cc.ERROR:
                fut.set_result((cc.ERROR, f.body))
            else:
                self._give_up(f"unexpected frame kind {f.kind}")
                return

    def _channel_closed(self, reason: str) -> None:
        """EOF usually means the process died: wait briefly for its exit status,
        which names the cause better than the EOF does."""
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._loop.remove_writer(self._sock.fileno())
        if self._exit_timer is None and self.lost is None and self._loop is not None:
            self._exit_timer = self._loop.call_later(EXIT_GRACE, self._give_up, reason)


def _batch_result(n: int) -> Callable[[Any], list]:
    def checked(v: Any) -> list:
        if not isinstance(v, list) or len(v) > n:
            raise check.BadReply("batch result is not a list of its calls' results")
        for r in v:
            if r is not None and not (isinstance(r, dict) and isinstance(r.get("error"), str)):
                raise check.BadReply("batch result entry is neither null nor an error")
        return v

    return checked


def _remote_error(body: dict) -> Exception:
    msg = check.clean(str(body.get("error", "")))[:1024]
    if body.get("type") == "MemifError":
        from dataplane import MemifError

        return MemifError(msg)
    return RemoteError(f"{body.get('type', 'error')}: {msg}")
