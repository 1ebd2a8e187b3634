"""Stall and memory benchmark (issue 12, design §6 row "another session's small
get-config while one client sends its worst request"): one session sends the
worst requests it can back to back, from a process of its own, while another
session times small get-configs; then many sessions each hold a big unfinished
message and the agent's peak RSS is read.

    .venv/bin/python tools/bench/stall.py [--seconds 20] [--interfaces 1000] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tools.bench.nc_raw import RawSession  # noqa: E402
from tools.bench.processes import start_agent  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NC = b"urn:ietf:params:xml:ns:netconf:base:1.0"
NS = b"urn:memif-agent:yang:memif-agent"
GET_CONFIG = (
    b'<get-config><source><running/></source><filter><memif xmlns="%s"><socket><id>1</id>'
    b"</socket></memif></filter></get-config>" % NS
)
KINDS = ("nested XPath", "40,000 attributes", "7,000,000 elements", "28 MB message")
# What the agent answers each kind with: refused, or served (the 28 MB message).
REFUSED = (True, True, True, False)


def _rpc(body: bytes, mid: int, attrs: bytes = b"") -> bytes:
    return b'<rpc xmlns="%s" message-id="%d"%s>%s</rpc>' % (NC, mid, attrs, body)


def worst_requests() -> list[bytes]:
    """The costliest requests found for issue 12, one of each kind."""
    nested = b"//*[count(//*[count(//*[count(//*) &gt; 0]) &gt; 0]) &gt; 0]"
    attrs = b" " + b" ".join(b'a%d="1"' % i for i in range(40000))
    # The biggest message that is parsed and answered: three 9 MB key values
    # (libxml2's text-node limit is 10 MB), 28 MB in all.
    big_filter = b"<filter><memif xmlns='%s'>%s</memif></filter>" % (
        NS,
        b"".join(b"<socket><id>%s</id></socket>" % (b"%d" % i * (9 << 20)) for i in (1, 2, 3)),
    )
    return [
        _rpc(b'<get><filter type="xpath" select="%s"/></get>' % nested, 1),
        _rpc(GET_CONFIG, 2, attrs),
        _rpc(
            b"<get-config><source><running/></source><filter>%s</filter></get-config>"
            % (b"<a/>" * 7_000_000),
            3,
        ),
        _rpc(b"<get-config><source><running/></source>%s</get-config>" % big_filter, 4),
    ]


async def _send(s: RawSession, msg: bytes) -> bytes:
    s.writer.write(b"\n#%d\n%s\n##\n" % (len(msg), msg))
    return await s.read()


def attack(port: int, seconds: float) -> None:
    """The attacker's process: prints [kind, refused, seconds] per reply as JSON."""
    worst = worst_requests()

    async def go():
        s = await RawSession.open(port)
        out = []
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            for i, msg in enumerate(worst):
                t = time.perf_counter()
                reply = await _send(s, msg)
                out.append((KINDS[i], b"<rpc-error" in reply, time.perf_counter() - t))
        s.close()
        print(json.dumps(out))

    asyncio.run(go())


async def victim(port: int, seconds: float) -> tuple[list[float], list]:
    s = await RawSession.open(port)
    for _ in range(20):
        await s.call(GET_CONFIG)
    attacker = subprocess.Popen(
        [sys.executable, __file__, "--attack", str(port), "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    lat = []
    t_end = time.monotonic() + seconds
    while attacker.poll() is None or time.monotonic() < t_end:
        t = time.perf_counter()
        reply = await s.call(GET_CONFIG)
        lat.append(time.perf_counter() - t)
        assert b"<data" in reply, reply[:300]
        await asyncio.sleep(0.01)
    out, _ = attacker.communicate(timeout=60)
    s.close()
    return lat, json.loads(out.strip().splitlines()[-1])


async def baseline(port: int, n: int = 300) -> list[float]:
    s = await RawSession.open(port)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        await s.call(GET_CONFIG)
        lat.append(time.perf_counter() - t)
        await asyncio.sleep(0.01)
    s.close()
    return lat


def rss_mb(pid: int, field: str = "VmHWM") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def hold_unfinished(port: int, sessions: int, size: int) -> int:
    """`sessions` sessions each send `size` bytes of a message they never end;
    returns how many the agent closed."""
    opened = [await RawSession.open(port) for _ in range(sessions)]
    head = _rpc(b"<get-config><source><running/></source>", 1)[:-6] + b"<!--"
    block = b"x" * (1 << 20)
    for s in opened:
        s.writer.write(b"\n#%d\n" % (size + 4096) + head)
    for _ in range(size >> 20):
        for s in opened:
            if not s.writer.is_closing():
                s.writer.write(block)
        await asyncio.sleep(0)
    for s in opened:
        try:
            await asyncio.wait_for(s.writer.drain(), 30)
        except Exception:
            pass
    await asyncio.sleep(1.0)
    closed = 0
    for s in opened:
        try:
            data = await asyncio.wait_for(s.reader.read(1), 0.5)
            closed += data == b""
        except TimeoutError:
            pass
        except Exception:
            closed += 1
    for s in opened:
        s.close()
    return closed


def pct(values: list[float], p: float) -> float:
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--attack", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.attack:
        attack(args.attack, args.seconds)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        proc, port = start_agent(Path(tmp), "--no-dataplane", "--max-sessions", "64")
        try:
            base = asyncio.run(baseline(port))
            rows.append(
                [
                    "small get-config, alone",
                    len(base),
                    f"{pct(base, 0.5):.1f}",
                    f"{pct(base, 0.99):.1f}",
                    "",
                ]
            )
            lat, answered = asyncio.run(victim(port, args.seconds))
            kinds = {}
            for kind, refused, secs in answered:
                k = kinds.setdefault(kind, [0, 0, 0.0])
                k[0] += 1
                k[1] += refused
                k[2] = max(k[2], secs)
            note = "; ".join(
                f"{k}: {v[1]}/{v[0]} refused, slowest reply {v[2] * 1000:.0f} ms"
                for k, v in kinds.items()
            )
            rows.append(
                [
                    "small get-config while another session sends its worst requests",
                    len(lat),
                    f"{pct(lat, 0.5):.1f}",
                    f"{pct(lat, 0.99):.1f}",
                    note,
                ]
            )
            before = rss_mb(proc.pid, "VmRSS")
            closed = asyncio.run(hold_unfinished(port, args.sessions, 31 << 20))
            rows.append(
                [
                    f"{args.sessions} sessions each holding 31 MB of an unfinished message",
                    args.sessions,
                    "",
                    "",
                    f"RSS {before:.0f} MB before, peak {rss_mb(proc.pid):.0f} MB; "
                    f"{closed} sessions closed by --max-input-buffer",
                ]
            )
        finally:
            proc.terminate()
            proc.wait(10)
    rows = [tuple(str(c) for c in r) for r in rows]
    print_table(("what", "n", "p50 ms", "p99 ms", "notes"), rows, markdown=args.markdown)


if __name__ == "__main__":
    main()
