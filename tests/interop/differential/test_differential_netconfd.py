"""Differential test: the same RPC sequences to the agent and to yuma123 netconfd
(behind a private sshd, tests/support/netconfd.py), replies normalised and compared.
Every difference must be one of known_differences.KNOWN, each of which says
which RFC text makes the agent right (docs/conformance.md lists them too).

Both servers are spoken to by the same raw client (asyncssh, base:1.1; netconfd
2.13 drops a base:1.1 RPC that arrives in the same read as the client hello).
"""

from __future__ import annotations

import asyncio

import netconfd as netconfd_launcher
import pytest
from agent_harness import HELLO11, Raw, rpc
from known_differences import KNOWN
from lxml import etree
from normalize import normalize
from sequences import RESET, SEQUENCES

pytestmark = pytest.mark.skipif(
    netconfd_launcher.available() is not None, reason=netconfd_launcher.available() or ""
)


PROBE = (
    b"<get-config><source><running/></source><filter><none xmlns='urn:x'/></filter></get-config>"
)


async def _ready(session: Raw) -> Raw:
    """netconfd 2.13 drops an RPC that reaches it in the same read as the client
    <hello>: probe until one is answered (an RPC sent after that is not lost)."""
    for n in range(50):
        session.send(rpc(PROBE, f"probe-{n}"))
        try:
            await _reply(session, f"probe-{n}", timeout=0.2)
            return session
        except TimeoutError:
            continue
    raise TimeoutError("netconfd answers no RPC")


async def _reply(session: Raw, mid: str, timeout: float = 15) -> bytes:
    """The reply to `mid`, skipping late answers to earlier probes."""
    while True:
        raw = await session.read(timeout=timeout)
        got = etree.fromstring(raw).get("message-id") or ""
        if got == mid:
            return raw
        assert got.startswith("probe-"), raw


CLEANUP = tuple(
    f"<unlock><target><{ds}/></target></unlock>" for ds in ("running", "candidate", "startup")
)


async def _call(session: Raw, body: str, mid: int) -> bytes:
    session.send(rpc(body.encode(), mid))
    return await _reply(session, str(mid))


async def _run(open_session) -> dict[str, tuple[str, str]]:
    """sequence#step -> (normalised reply, raw reply) for every step. Sessions A and
    B live through the whole run (SSH set-up is most of its time); between
    sequences their locks are dropped and the memif configuration removed."""
    out: dict[str, tuple[str, str]] = {}
    sessions = {"A": await open_session(), "B": await open_session()}
    ids = {s.session_id: w for w, s in sessions.items()}
    mid = 0
    try:
        for name, steps in SEQUENCES.items():
            for s in sessions.values():
                for body in CLEANUP:  # whatever the reply: nothing may stay locked
                    mid += 1
                    await _call(s, body, mid)
            for body in RESET:
                mid += 1
                reply = etree.fromstring(await _call(sessions["A"], body, mid))
                assert reply.find(f"{{{etree.QName(reply).namespace}}}ok") is not None, (
                    name,
                    etree.tostring(reply),
                )
            for i, (who, body) in enumerate(steps):
                for w, s in sessions.items():
                    body = body.replace(f"${w}", s.session_id)
                mid += 1
                raw = await _call(sessions[who], body, mid)
                out[f"{name}#{i}"] = (normalize(raw, ids), raw.decode(errors="replace"))
    finally:
        for s in sessions.values():
            s.close()
    return out


def _agent_session(port: int):
    async def open_session() -> Raw:
        return await _ready(await Raw.open(port, hello=HELLO11))

    return open_session


def _netconfd_session(nc: netconfd_launcher.Netconfd):
    async def open_session() -> Raw:
        s = await Raw.open(
            nc.port,
            hello=HELLO11,
            username=nc.username,
            password=None,
            client_keys=[nc.key_filename],
            agent_path=None,
        )
        return await _ready(s)

    return open_session


def test_agent_and_netconfd_differ_only_where_the_rfc_says_the_agent_is_right(
    start_agent, tmp_path
):
    ag = start_agent(tmp_path / "agent", "--no-dataplane")
    with netconfd_launcher.Netconfd(tmp_path / "netconfd") as nc:

        async def both():
            return (
                await _run(_agent_session(ag.port)),
                await _run(_netconfd_session(nc)),
            )

        ours, theirs = asyncio.run(asyncio.wait_for(both(), 120))
    assert ours.keys() == theirs.keys()
    differ = {k for k in ours if ours[k][0] != theirs[k][0]}
    new = sorted(differ - KNOWN.keys())
    gone = sorted(KNOWN.keys() - differ)

    def short(text: str) -> str:
        return text.replace("{urn:ietf:params:xml:ns:netconf:base:1.0}", "").replace(
            "{urn:memif-agent:yang:memif-agent}", "m:"
        )

    report = "\n\n".join(
        f"{k}: {SEQUENCES[k.split('#')[0]][int(k.split('#')[1])][1][:300]}\n"
        f"  agent:    {short(ours[k][0])}\n  netconfd: {short(theirs[k][0])}"
        for k in new
    )
    assert not new, f"differences not in known_differences.KNOWN:\n{report}"
    assert not gone, f"listed differences that no longer occur (remove them): {gone}"
