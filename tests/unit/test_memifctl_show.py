"""`show interface memif` layout (TNSR's) from a <get> reply."""

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
<state><last-refusal>vpp for interface 7: incorrect secret</last-refusal></state></socket>
<interface><socket-id>23</socket-id><id>100</id><enabled>true</enabled><role>server</role>
<ring-size>11</ring-size>
<state><mac-address>02:fe:8c:e5:ce:06</mac-address><link-status>up</link-status>
<ring-size>1024</ring-size><buffer-size>2048</buffer-size><remote-name>testpmd</remote-name>
<queue><direction>rx</direction><id>0</id><ring-size>1024</ring-size><head>5</head><tail>5</tail>
<packets>5</packets><bytes>320</bytes><interrupts>1</interrupts></queue>
<counters><rx-packets>5</rx-packets><rx-bytes>320</rx-bytes></counters></state></interface>
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
    down = show.detail(show.model(etree.fromstring(DOWN)))
    assert "    Ring size: 0\n" in down and "    Configured ring size: 1024\n" in down
    c = show.counters(m).splitlines()
    assert c[0].split()[:3] == ["Interface", "rx-packets", "rx-bytes"]
    assert c[2].split()[:3] == ["memif23/100", "5", "320"]
