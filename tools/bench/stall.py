"""Stall and memory benchmark (issue 12, design §6 row "another session's small
get-config while one client sends its worst request"): a client sends the
worst requests it can back to back, from a process of its own, while another
session times small get-configs; then many sessions each hold a big unfinished
message and the agent's peak RSS is read.

Two kinds of worst request: hostile ones, which the agent refuses cheaply
(nested XPath, 40,000 attributes, 7,000,000 elements) or parses off the loop (a
28 MB message); and big legitimate ones, which it must serve: a 10,000-entry
edit-config of running, a <get> of those 10,000 interfaces, a 10,000-entry
edit of the candidate by a user whose NACM rules are checked node by node, and
a copy-config of a 10,000-entry configuration to the candidate.
Each legitimate kind is measured on its own (one row each).

    .venv/bin/python tools/bench/stall.py [--seconds 10] [--runs 3] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
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
LEGIT_KINDS = (
    "10,000-entry edit-config",
    "get of 10,000 interfaces",
    "restricted 10,000-entry edit",
    "10,000-entry copy-config",
)
ENTRIES = 10_000
# The restricted user: may create and update interfaces (NACM rules checked on
# every node its edits name), not their secrets.
EDITOR, EDITOR_PASSWORD = "editor", "editor-pw"
NACM_NS = b"urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NACM_RULES = (
    b'<nacm xmlns="%s"><rule-list><name>editors</name><group>editors</group>'
    b"<rule><name>no-secrets</name><module-name>memif-agent</module-name>"
    b'<path xmlns:m="%s">/m:memif/m:interface/m:secret</path>'
    b"<access-operations>*</access-operations><action>deny</action></rule>"
    b"<rule><name>interfaces</name><module-name>memif-agent</module-name>"
    b'<path xmlns:m="%s">/m:memif/m:interface</path>'
    b"<access-operations>create update</access-operations><action>permit</action></rule>"
    b"</rule-list></nacm>" % (NACM_NS, NS, NS)
)


def write_users(path: Path) -> Path:
    """A users file with admin/admin (group admin) and the restricted editor."""
    from agent.ssh.users import hash_password

    path.write_text(
        f"admin:{hash_password('admin')}::admin\n"
        f"{EDITOR}:{hash_password(EDITOR_PASSWORD)}::editors\n"
    )
    path.chmod(0o600)
    return path


def interfaces(n: int, enabled: bool, sockets: int = 100) -> bytes:
    """n interfaces on `sockets` sockets (the sockets only when sockets > 0)."""
    flag = b"true" if enabled else b"false"
    return b"".join(
        [b"<memif xmlns='%s'>" % NS]
        + [
            b"<socket><id>%d</id><filename>/tmp/stall-memif/%d.sock</filename></socket>" % (s, s)
            for s in range(1, sockets + 1)
        ]
        + [
            b"<interface><socket-id>%d</socket-id><id>%d</id><enabled>%s</enabled></interface>"
            % (i % 100 + 1, i, flag)
            for i in range(1, n + 1)
        ]
        + [b"</memif>"]
    )


def _edit(target: bytes, config: bytes) -> bytes:
    return b"<edit-config><target><%s/></target><config>%s</config></edit-config>" % (
        target,
        config,
    )


async def setup_legit(port: int) -> None:
    """running with the editors' NACM rules and ENTRIES interfaces (disabled: the
    first round of edits enables them)."""
    s = await RawSession.open(port)
    reply = await s.call(_edit(b"running", NACM_RULES + interfaces(ENTRIES, False)))
    s.close()
    assert b"<ok/>" in reply, reply[:500]


def legit_request(kind: str, round_: int) -> tuple[bool, bytes]:
    """(by the restricted user?, request body) of one legitimate kind; values
    alternate by round, so every edit changes all 10,000 entries."""
    enabled = bool(round_ % 2)
    if kind == LEGIT_KINDS[0]:
        return False, _edit(b"running", interfaces(ENTRIES, enabled))
    if kind == LEGIT_KINDS[1]:
        return False, b"<get/>"
    if kind == LEGIT_KINDS[2]:
        return True, _edit(b"candidate", interfaces(ENTRIES, enabled, sockets=0))
    return False, (
        b"<copy-config><target><candidate/></target><source><config>%s%s</config></source>"
        b"</copy-config>" % (NACM_RULES, interfaces(ENTRIES, enabled))
    )


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


def attack(port: int, seconds: float, legit: str = "") -> None:
    """The attacker's process: prints [kind, refused, seconds] per reply as JSON.
    `legit`: one of LEGIT_KINDS, sent back to back instead of the hostile ones."""
    worst = worst_requests()

    async def go():
        s = await RawSession.open(port)
        editor = await RawSession.open(port, EDITOR, EDITOR_PASSWORD) if legit else None
        out = []
        t_end = time.monotonic() + seconds
        round_ = 0
        while time.monotonic() < t_end:
            round_ += 1
            if legit:
                restricted, body = legit_request(legit, round_)
                session = editor if restricted else s
                session.mid += 1
                batch = [(legit, _rpc(body, session.mid), session)]
            else:
                batch = [(KINDS[i], msg, s) for i, msg in enumerate(worst)]
            for kind, msg, session in batch:
                t = time.perf_counter()
                reply = await _send(session, msg)
                out.append((kind, b"<rpc-error" in reply, time.perf_counter() - t))
        s.close()
        if editor is not None:
            editor.close()
        print(json.dumps(out))

    asyncio.run(go())


async def victim(port: int, seconds: float, legit: str = "") -> tuple[list[float], list]:
    s = await RawSession.open(port)
    for _ in range(20):
        await s.call(GET_CONFIG)
    cmd = [sys.executable, __file__, "--attack", str(port), "--seconds", str(seconds)]
    if legit:
        cmd += ["--legit", legit]
    attacker = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
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


def _spread(values: list[float]) -> str:
    """min / median of repeated runs."""
    return f"{min(values):.1f} / {statistics.median(values):.1f}"


def _replies_note(answered: list) -> str:
    kinds: dict[str, list] = {}
    for kind, refused, secs in answered:
        k = kinds.setdefault(kind, [0, 0, 0.0])
        k[0] += 1
        k[1] += refused
        k[2] = max(k[2], secs)
    return "; ".join(
        f"{k}: {v[1]}/{v[0]} refused, slowest reply {v[2] * 1000:.0f} ms" for k, v in kinds.items()
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--attack", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--legit", default="", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.attack:
        attack(args.attack, args.seconds, args.legit)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        users = write_users(Path(tmp) / "users")
        proc, port = start_agent(
            Path(tmp), "--no-dataplane", "--max-sessions", "64", "--users", str(users)
        )
        try:
            # (what, runs of (p50, p99, n), notes of the last run)
            measured: list[tuple[str, list[tuple[float, float, int]], str]] = []

            def record(what: str, lat: list[float], note: str) -> None:
                for row in measured:
                    if row[0] == what:
                        row[1].append((pct(lat, 0.5), pct(lat, 0.99), len(lat)))
                        return
                measured.append((what, [(pct(lat, 0.5), pct(lat, 0.99), len(lat))], note))

            for _ in range(args.runs):
                record("small get-config, alone", asyncio.run(baseline(port)), "")
                lat, answered = asyncio.run(victim(port, args.seconds))
                record(
                    "small get-config while another session sends hostile requests",
                    lat,
                    _replies_note(answered),
                )
            asyncio.run(setup_legit(port))
            for kind in LEGIT_KINDS:
                for _ in range(args.runs):
                    lat, answered = asyncio.run(victim(port, args.seconds, kind))
                    record(f"small get-config while another session sends {kind}", lat, "")
                    measured[-1] = (measured[-1][0], measured[-1][1], _replies_note(answered))
            for what, runs, note in measured:
                rows.append(
                    [
                        what,
                        str(sum(r[2] for r in runs)),
                        _spread([r[0] for r in runs]),
                        _spread([r[1] for r in runs]),
                        note,
                    ]
                )
            before = rss_mb(proc.pid, "VmRSS")
            closed = asyncio.run(hold_unfinished(port, args.sessions, 31 << 20))
            rows.append(
                [
                    f"{args.sessions} sessions each holding 31 MB of an unfinished message",
                    str(args.sessions),
                    "",
                    "",
                    f"RSS {before:.0f} MB before, peak {rss_mb(proc.pid):.0f} MB; "
                    f"{closed} sessions closed by --max-input-buffer",
                ]
            )
        finally:
            proc.terminate()
            proc.wait(10)
    header = ("what", "n", "p50 ms (min / median)", "p99 ms (min / median)", "notes")
    print_table(header, [tuple(r) for r in rows], markdown=args.markdown)


if __name__ == "__main__":
    main()
