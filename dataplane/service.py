"""The dataplane process: runs one `_memif` Dataplane and serves control calls
from the agent on an inherited socket (frames of dataplane.control_codec).

    python -m dataplane.service --fd N --parent PID [--app-name NAME]

Packets never cross the channel: xconnect and the rx drain run on the
Dataplane's own thread here. Link events are pushed as EVENTS frames. The
process dies with the agent (PR_SET_PDEATHSIG, and EOF on the channel), so a
killed agent never leaves a dataplane holding its socket files.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import selectors
import signal
import socket
import sys
from typing import Any

from dataplane import control_codec as cc

# What the agent may call; everything else (bursts, traffic generator) stays
# library-only.
METHODS = frozenset(
    (
        "add_socket",
        "remove_socket",
        "add_interface",
        "remove_interface",
        "set_enabled",
        "set_xconnect",
        "state",
        "state_blob",
        "interface_state",
        "ping",
        "batch",
    )
)
# Calls one batch may hold: keeps each reply quick, so heartbeats interleave.
MAX_BATCH = 256
PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    # The agent may have died between fork and prctl: then nobody sends the signal.
    if os.getppid() != parent:
        sys.exit(0)


def _tuples(args: list[Any]) -> list[Any]:
    # set_xconnect takes (sid, id) tuples; JSON only has lists.
    return [tuple(a) if isinstance(a, list) else a for a in args]


class Service:
    def __init__(self, dp: Any, sock: socket.socket) -> None:
        self.dp = dp
        self.sock = sock
        self.decoder = cc.Decoder()

    def call(self, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if method == "batch":
            return self.batch(*args, **kwargs)
        if method == "ping":
            # Reaches through the Dataplane's lock: a loop thread stuck while
            # holding it makes the ping hang too, and the agent sees the hang.
            try:
                self.dp.interface_state(0xFFFFFFFF, 0)
            except Exception:
                pass
            return "pong"
        result = getattr(self.dp, method)(*_tuples(args), **kwargs)
        return result

    def batch(self, calls: list[Any], stop_on_error: bool = True) -> list[Any]:
        """Runs [method, args, kwargs] calls in order (their results are not
        returned: batches carry commit steps): one entry per call run, None or
        {"error", "type"}; stops after the first error if asked to."""
        if not isinstance(calls, list) or len(calls) > MAX_BATCH:
            raise ValueError(f"a batch is a list of at most {MAX_BATCH} calls")
        out: list[Any] = []
        for c in calls:
            if (
                not isinstance(c, list)
                or len(c) != 3
                or c[0] not in METHODS - {"batch"}
                or not isinstance(c[1], list)
                or not isinstance(c[2], dict)
            ):
                raise ValueError(f"bad call in batch: {c!r:.80}")
            try:
                self.call(c[0], c[1], c[2])
                out.append(None)
            except Exception as e:
                out.append({"error": str(e), "type": type(e).__name__})
                if stop_on_error:
                    break
        return out

    def handle(self, frame: cc.Frame) -> bytes:
        body = frame.body
        method = body.get("method")
        args = body.get("args", [])
        kwargs = body.get("kwargs", {})
        if frame.kind != cc.REQUEST or method not in METHODS:
            return cc.encode(
                cc.ERROR, frame.id, {"error": f"no such call {method!r}", "type": "ProtocolError"}
            )
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            return cc.encode(cc.ERROR, frame.id, {"error": "bad arguments", "type": "TypeError"})
        try:
            if method == "state_blob":
                return cc.encode_bytes(frame.id, self.dp.state_blob())
            result = self.call(method, args, kwargs)
        except Exception as e:
            return cc.encode(cc.ERROR, frame.id, {"error": str(e), "type": type(e).__name__})
        return cc.encode(cc.REPLY, frame.id, {"result": result})

    def on_request(self) -> bool:
        data = self.sock.recv(1 << 16)
        if not data:
            return False
        for frame in self.decoder.feed(data):
            self.sock.sendall(self.handle(frame))
        return True

    def on_events(self) -> None:
        events = self.dp.events()
        if events:
            self.sock.sendall(cc.encode(cc.EVENTS, 0, {"events": events}))

    def run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ, "ctl")
        sel.register(self.dp.fileno(), selectors.EVENT_READ, "events")
        while True:
            for key, _ in sel.select():
                if key.data == "events":
                    self.on_events()
                elif not self.on_request():
                    return


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m dataplane.service")
    p.add_argument("--fd", type=int, required=True, help="control socket inherited from the agent")
    p.add_argument("--parent", type=int, required=True, help="pid of the agent")
    p.add_argument("--app-name", default="memif-agent")
    opts = p.parse_args(argv)
    _die_with_parent(opts.parent)
    # The agent's terminal signals are the agent's: it decides when this process ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sock = socket.socket(fileno=opts.fd)
    sock.setblocking(True)
    from dataplane import Dataplane

    dp = Dataplane(app_name=opts.app_name)
    try:
        Service(dp, sock).run()
    except (cc.ProtocolError, OSError) as e:
        print(f"dataplane service: control channel: {e}", file=sys.stderr)
        return 1
    finally:
        dp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
