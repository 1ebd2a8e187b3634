"""`show interface memif` layout (TNSR's) from a <get> reply, and the counters
a hostile peer moves (pending and dropped connections, ring overruns) shown by
memifctl against a live agent."""

from __future__ import annotations

import re
import socket
import struct
import subprocess
import sys

from agent_harness import wait_until
from hostile_peer import HostileClient
from lxml import etree
from memifctl import show

NS = "urn:memif-agent:yang:memif-agent"

# TNSR 23.11's documented output: socket 23 on /tmp/memif23.sock, interface 100 as
# server, link down.
TNSR_EXAMPLE = """\
Socket Id  Filename
---------- --------------------------------------------------
0          /run/vpp/memif.sock
23         /tmp/memif23.sock

memif23/100:
    Socket id: 23
    Interface id: 100
    Interface: memif23/100
    Role: server
    Mode: ethernet
    MAC address: 02:fe:2d:e2:87:a8
    Ring size: 0
    Buffer size: 0
    Admin up: false
    Link up: false"""

REPLY = f"""<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><memif xmlns="{NS}">
<socket><id>0</id><filename>/run/vpp/memif.sock</filename><state><listening>false</listening></state></socket>
<socket><id>23</id><filename>/tmp/memif23.sock</filename>
<state><last-refusal>vpp for interface 7: incorrect secret</last-refusal>
<pending-connections>3</pending-connections><dropped-connections>12</dropped-connections></state>
</socket>
<interface><socket-id>23</socket-id><id>100</id><enabled>true</enabled><role>server</role>
<ring-size>11</ring-size>
<state><mac-address>02:fe:8c:e5:ce:06</mac-address><link-status>up</link-status>
<ring-size>1024</ring-size><buffer-size>2048</buffer-size><remote-name>testpmd</remote-name>
<queue><direction>rx</direction><id>0</id><ring-size>1024</ring-size><head>5</head><tail>5</tail>
<packets>5</packets><bytes>320</bytes><interrupts>1</interrupts></queue>
<counters><rx-packets>5</rx-packets><rx-bytes>320</rx-bytes><ring-overruns>4</ring-overruns>
</counters></state></interface>
</memif></data>"""

DOWN = f"""<data xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><memif xmlns="{NS}">
<socket><id>0</id><filename>/run/vpp/memif.sock</filename></socket>
<socket><id>23</id><filename>/tmp/memif23.sock</filename></socket>
<interface><socket-id>23</socket-id><id>100</id><role>server</role>
<state><mac-address>02:fe:2d:e2:87:a8</mac-address><link-status>down</link-status>
<ring-size>1024</ring-size><buffer-size>2048</buffer-size></state></interface>
</memif></data>"""


def test_brief_is_tnsr_layout_byte_for_byte() -> None:
    # Sizes in use are 0 while the link is down, even if the dataplane reports
    # the sizes it would offer.
    assert show.brief(show.model(etree.fromstring(DOWN))) == TNSR_EXAMPLE


def test_brief_link_up_shows_negotiated_sizes() -> None:
    text = show.brief(show.model(etree.fromstring(REPLY)))
    assert text.split("\n\n")[1].splitlines() == [
        "memif23/100:",
        "    Socket id: 23",
        "    Interface id: 100",
        "    Interface: memif23/100",
        "    Role: server",
        "    Mode: ethernet",
        "    MAC address: 02:fe:8c:e5:ce:06",
        "    Ring size: 1024",
        "    Buffer size: 2048",
        "    Admin up: true",
        "    Link up: true",
    ]


def test_detail_and_counters() -> None:
    m = show.model(etree.fromstring(REPLY))
    d = show.detail(m)
    assert "    Remote name: testpmd" in d
    assert "    Configured ring size: 2048\n    Configured buffer size: 2048\n" in d
    assert "Socket 23 last refused: vpp for interface 7: incorrect secret" in d
    assert "rx queue 0: ring 1024 head 5 tail 5 packets 5 bytes 320 interrupts 1" in d
    assert "Socket 23 connections: pending 3 dropped 12\n" in d
    assert "Socket 0 connections" not in d  # no state: no invented zeros
    assert "    Ring overruns: 4" in d
    down = show.detail(show.model(etree.fromstring(DOWN)))
    assert "    Ring size: 0\n" in down and "    Configured ring size: 1024\n" in down
    c = show.counters(m).splitlines()
    assert c[0].split()[:3] == ["Interface", "rx-packets", "rx-bytes"]
    assert c[2].split()[:3] == ["memif23/100", "5", "320"]
    assert c[0].split()[-1] == "ring-overruns" and c[2].split()[-1] == "4"


NS_FILTER = f'<memif xmlns="{NS}"/>'


def _memifctl(ag, *words: str) -> str:
    r = subprocess.run(
        [sys.executable, "-m", "tools.memifctl.main", "--port", str(ag.port), *words],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_hostile_peer_counters_shown_by_memifctl(agent, tmp_path) -> None:
    """Connections that never send INIT (pending, then dropped past the cap of
    64) and a peer publishing a head beyond the ring (ring overrun) show in
    `show interface memif detail` and `counters`, from the agent's own <get>."""
    path = str(tmp_path / "m9.sock")
    m = agent.connect()
    m.edit_config(
        target="running",
        config=f'<config><memif xmlns="{NS}"><socket><id>9</id><filename>{path}</filename>'
        "</socket><interface><socket-id>9</socket-id><id>1</id><enabled>true</enabled>"
        "</interface></memif></config>",
    )
    peer = HostileClient(path)
    held: list[socket.socket] = []
    try:
        peer.full_handshake(1)
        wait_until(
            lambda: "    Link up: true" in _memifctl(agent, "show interface memif"), what="link up"
        )
        # the S2M ring we transmit on: head a ring's worth and more ahead
        struct.pack_into("<H", peer.region, 6, 0x8000)

        def shown() -> str | None:
            # Fresh squatters each round: the handshake bound (3 s) drops them.
            for s in held:
                s.close()
            held.clear()
            for _ in range(66):
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(path)
                held.append(s)
            d = _memifctl(agent, "show interface memif detail")
            counts = re.search(r"^Socket 9 connections: pending (\d+) dropped (\d+)$", d, re.M)
            ok = counts is not None and counts[1] == "64" and int(counts[2]) >= 2
            return d if ok and "    Ring overruns: 0\n" not in d else None

        d = wait_until(shown, what="pending, dropped and ring overruns in detail")
        overruns = int(d.split("    Ring overruns: ")[1].split()[0])
        assert overruns > 0
        line = [
            x
            for x in _memifctl(agent, "show interface memif counters").splitlines()
            if x.startswith("memif9/1 ")
        ]
        assert int(line[0].split()[-1]) >= overruns
    finally:
        for s in held:
            s.close()
        peer.close()
        m.close_session()
