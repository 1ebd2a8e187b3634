"""RESTCONF against NETCONF on one agent, in the same run: the rate of GETs of
one interface (one client, one request at a time, keep-alive HTTPS against one
SSH session) and a PUT of 1,000 interfaces (100 sockets) replacing /memif
against the same edit-config of running. The agent runs without the dataplane:
what is measured is the management path (parse, NACM, edit, validate, commit,
persist), the same for both protocols but for their encodings.

    .venv/bin/python tools/bench/restconf.py [--markdown] [--runs 5] [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools.bench.nc_raw import RawSession  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"


def start(work: Path) -> tuple[subprocess.Popen, int, int]:
    cmd = [
        sys.executable, "-m", "agent.main", "--port", "0", "--state-dir", str(work / "state"),
        "--socket0", str(work / "m0.sock"), "--no-dataplane", "--log-level", "info",
        "--restconf-port", "0",
    ]  # fmt: skip
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    assert p.stderr is not None
    ssh = rc = None
    for line in p.stderr:
        if m := re.search(r"listening on [^:]+:(\d+)", line):
            ssh = int(m.group(1))
        if m := re.search(r"RESTCONF on https://\S+:(\d+)", line):
            rc = int(m.group(1))
        if ssh and rc:
            return p, ssh, rc
    raise RuntimeError("the agent did not start")


def config_json(n: int, sockets: int = 100) -> dict:
    return {
        "memif-agent:memif": {
            "socket": [
                {"id": s, "filename": f"/tmp/bench-memif/{s}.sock"} for s in range(1, sockets + 1)
            ],
            "interface": [
                {"socket-id": i % sockets + 1, "id": i, "enabled": True} for i in range(1, n + 1)
            ],
        }
    }


def config_xml(n: int, sockets: int = 100) -> bytes:
    parts = [
        f'<memif xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'
        ' nc:operation="replace">'
    ]
    parts += [
        f"<socket><id>{s}</id><filename>/tmp/bench-memif/{s}.sock</filename></socket>"
        for s in range(1, sockets + 1)
    ]
    parts += [
        f"<interface><socket-id>{i % sockets + 1}</socket-id><id>{i}</id>"
        "<enabled>true</enabled></interface>"
        for i in range(1, n + 1)
    ]
    parts.append("</memif>")
    return "".join(parts).encode()


def edit_running(config: bytes) -> bytes:
    return b"<edit-config><target><running/></target><config>%s</config></edit-config>" % config


async def main_async(args) -> list[tuple[str, ...]]:
    work = Path(tempfile.mkdtemp(prefix="bench-restconf-"))
    proc, ssh_port, rc_port = start(work)
    try:
        ctx = ssl.create_default_context(cafile=str(work / "state" / "restconf_cert.pem"))
        base = f"https://127.0.0.1:{rc_port}/restconf/data/memif-agent:memif"
        hdr = {
            "Authorization": aiohttp.encode_basic_auth("admin", "admin"),
            "Accept": "application/yang-data+json",
            "Content-Type": "application/yang-data+json",
        }
        nc = await RawSession.open(ssh_port)
        async with aiohttp.ClientSession(headers=hdr) as http:
            put_rc, put_nc, get_rc, get_nc = [], [], [], []
            big_json = json.dumps(config_json(1000)).encode()
            big_xml = edit_running(config_xml(1000))
            clear = edit_running(
                f'<memif xmlns="{NS}" xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0"'
                ' nc:operation="remove"/>'.encode()
            )
            for _ in range(args.runs):
                await nc.call(clear)
                t = time.perf_counter()
                async with http.put(base, data=big_json, ssl=ctx) as r:
                    assert r.status in (201, 204), await r.text()
                put_rc.append(time.perf_counter() - t)
                await nc.call(clear)
                t = time.perf_counter()
                reply = await nc.call(big_xml)
                assert b"rpc-error" not in reply, reply[:500]
                put_nc.append(time.perf_counter() - t)
            one = f"{base}/interface=2,1"
            small = (
                f'<get-config><source><running/></source><filter><memif xmlns="{NS}">'
                "<interface><socket-id>2</socket-id><id>1</id></interface></memif></filter>"
                "</get-config>"
            ).encode()
            async with http.get(one, ssl=ctx) as r:
                assert r.status == 200, await r.text()
            for _ in range(args.runs):
                n, stop = 0, time.perf_counter() + args.seconds
                t = time.perf_counter()
                while time.perf_counter() < stop:
                    async with http.get(one, ssl=ctx) as r:
                        await r.read()
                    n += 1
                get_rc.append(n / (time.perf_counter() - t))
                n, stop = 0, time.perf_counter() + args.seconds
                t = time.perf_counter()
                while time.perf_counter() < stop:
                    await nc.call(small)
                    n += 1
                get_nc.append(n / (time.perf_counter() - t))
        nc.close()
    finally:
        proc.terminate()
        proc.wait(10)

    def med(v):
        return statistics.median(v)

    return [
        ("GET one interface (req/s)", f"{med(get_rc):.0f}", f"{med(get_nc):.0f}",
         f"{med(get_rc) / med(get_nc):.2f}x"),
        ("PUT 1,000 interfaces (ms)", f"{med(put_rc) * 1e3:.0f}", f"{med(put_nc) * 1e3:.0f}",
         f"{med(put_rc) / med(put_nc):.2f}x"),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    args = ap.parse_args()
    rows = asyncio.run(main_async(args))
    print_table(("row (median)", "RESTCONF", "NETCONF", "RESTCONF/NETCONF"), rows, args.markdown)


if __name__ == "__main__":
    main()
