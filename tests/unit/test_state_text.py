"""The <get> state text: the dataplane's state blob read by the C formatter
(dataplane.state_blob.format_state) against the dict-to-text builder it
replaced (the oracle in tests/support/state_blob_vectors.py), byte for byte,
with hostile strings and hostile blobs; and ietf-interfaces, still written
from values."""

from __future__ import annotations

import random

import pytest
from lxml import etree

from agent.memif.interfaces_state import IF_NS, interfaces_state
from agent.memif.state import INTERFACE, MEMIF_NS, SOCKET, MemifStateText, xml_text
from dataplane import control_replies as check
from dataplane.state_blob import BadBlob, StateText, decode, format_state, from_wire
from tests.support.state_blob_vectors import blob, itf, oracle_text, sock

M = f"{{{MEMIF_NS}}}"
IFQ = f"{{{IF_NS}}}"
HOSTILE = [
    b"a&b<c>d]]>",
    b"x\x00\x01\x1b[31m\x7f",
    "\x85\x9f".encode(),  # C1 controls, as valid UTF-8
    "\ufffe\uffff".encode(),
    b"\xed\xa0\x80\xed\xbf\xbf",  # surrogates, UTF-8 encoded: not valid UTF-8
    b"\xc0\xaf\xe0\x80\xaf\xf0\x80\x80\xaf",  # overlong forms
    b"\xf4\x90\x80\x80\xf5\x80",  # above U+10FFFF
    b"\xe2\x82",  # truncated at the end
    b"\xe2\x82A\xf0\x9f\x98",  # truncated before ASCII
    "é€😀".encode() + b"\t\n\r",
    b"\xff\xfe<&>\xc3",
    b"&amp; &#0; <!-- --> <![CDATA[x]]>",
]


def text_of(b: bytes, socket0: str = "/run/memif.sock") -> bytes:
    st = from_wire(b, SOCKET, INTERFACE)
    return MemifStateText(st, socket0, "").text()


def oracle(b: bytes, socket0: str = "/run/memif.sock") -> bytes:
    return oracle_text(check.state(decode(b)), socket0).encode()


def connected(sid: int, iid: int, **kw) -> bytes:
    q = (1024, 7, 3, 10, 640, 2)
    kw.setdefault("rx", [q, q])
    kw.setdefault("tx", [q])
    return itf(sid, iid, state=4, log2=10, regions=2, bsize=2048, **kw)


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_match_the_oracle_and_parse(value):
    b = blob(
        [sock(0, filename=value, error=value, refused=value), sock(3, role=0, listening=0)],
        [
            connected(3, 1, strings=[value] * 5, counters=range(10)),
            itf(3, 2, strings=[value] * 5, enabled=0, state=0),
        ],
    )
    got = text_of(b, socket0="/run/a&b<\x01.sock")
    assert got == oracle(b, socket0="/run/a&b<\x01.sock")
    root = etree.fromstring(got)
    want = xml_text(check.clean(decode(b)["interfaces"][0]["remote-name"]))
    st = root.find(f"{M}interface/{M}state")
    for leaf in ("mac-address", "remote-name", "remote-interface-name"):
        if want:
            assert st.findtext(M + leaf) == want
    assert "\n" not in got.decode() and "\x00" not in got.decode()


def test_byte_vector():
    b = blob(
        [sock(7, count=2, pending=1, dropped=5, error=b"bind: EACCES")],
        [
            connected(
                7, 1, counters=[2**64 - 1] + [0] * 9, strings=[b"02:fe:00:00:00:01"] + [b""] * 4
            )
        ],
    )
    assert from_wire(b, "s", "i").fragments == {
        ("s", ("7",)): b"<state><listening>true</listening><role>server</role>"
        b"<interface-count>2</interface-count><pending-connections>1</pending-connections>"
        b"<dropped-connections>5</dropped-connections><error>bind: EACCES</error></state>",
        ("i", ("7", "1")): b"<state><name>memif7/1</name><admin-status>up</admin-status>"
        b"<link-status>up</link-status><connection-state>connected</connection-state>"
        b"<mac-address>02:fe:00:00:00:01</mac-address><ring-size>1024</ring-size>"
        b"<buffer-size>2048</buffer-size><rx-queues>2</rx-queues><tx-queues>1</tx-queues>"
        b"<regions>2</regions>"
        + b"".join(
            b"<queue><direction>%s</direction><id>%d</id><ring-size>1024</ring-size><head>7</head>"
            b"<tail>3</tail><packets>10</packets><bytes>640</bytes><interrupts>2</interrupts></queue>"
            % (d, k)
            for d, k in ((b"rx", 0), (b"rx", 1), (b"tx", 0))
        )
        + b"<counters><rx-packets>18446744073709551615</rx-packets><rx-bytes>0</rx-bytes>"
        b"<tx-packets>0</tx-packets><tx-bytes>0</tx-bytes><rx-drops>0</rx-drops>"
        b"<tx-drops>0</tx-drops><bad-descriptors>0</bad-descriptors>"
        b"<no-free-slots>0</no-free-slots><ring-overruns>0</ring-overruns>"
        b"<interrupts>0</interrupts></counters></state>",
    }


def random_blob(rng: random.Random) -> bytes:
    def s() -> bytes:
        return bytes(
            rng.choice([0, 0x26, 0x3C, 0x41, 0x7F, 0x85, 0xC3, 0xE2, 0xF0, 0xFF, 0x80, 0xBF])
            for _ in range(rng.randrange(6))
        )

    socks = [
        sock(k, listening=rng.randrange(2), role=rng.randrange(3), error=s(), refused=s())
        for k in range(rng.randrange(4))
    ]
    itfs = []
    for k in range(rng.randrange(5)):
        strings = [s() for _ in range(5)]
        counters = [rng.choice([0, 1, 2**64 - 1, rng.randrange(2**64)]) for _ in range(10)]
        if rng.random() < 0.5:
            q = tuple(rng.randrange(2**b) for b in (32, 16, 16, 64, 64, 64))
            itfs.append(
                connected(
                    rng.randrange(3),
                    k,
                    strings=strings,
                    counters=counters,
                    rx=[q] * rng.randrange(3),
                    tx=[q] * rng.randrange(3),
                )
            )
        else:
            itfs.append(
                itf(
                    rng.randrange(3),
                    k,
                    role=rng.choice([1, 2]),
                    mode=rng.randrange(2),
                    enabled=rng.randrange(2),
                    state=rng.randrange(4),
                    strings=strings,
                    counters=counters,
                )
            )
    return blob(socks, itfs)


def test_random_blobs_match_the_oracle():
    rng = random.Random(17)
    for _ in range(400):
        b = random_blob(rng)
        assert text_of(b) == oracle(b)


def test_hostile_blobs_are_refused_alike_and_never_crash():
    rng = random.Random(12)
    valid = [random_blob(rng) for _ in range(40)]
    for b in valid:
        # Every truncation is refused, by both readers.
        for cut in range(len(b)):
            with pytest.raises(ValueError):
                format_state(b[:cut], "s", "i")
            with pytest.raises(BadBlob):
                decode(b[:cut])
        with pytest.raises(ValueError, match="after the last entry"):
            format_state(b + b"\0", "s", "i")
    for _ in range(3000):
        b = bytearray(rng.choice(valid))
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        b = bytes(b)
        try:
            decode(b)
            ok = True
        except BadBlob:
            ok = False
        try:
            text = text_of(b)
        except BadBlob:
            assert not ok, b
            continue
        assert ok, b
        assert text == oracle(b)
        etree.fromstring(text)


@pytest.mark.parametrize(
    "bad",
    [
        b"MSB2" + bytes(8),
        blob([sock(1, listening=2)]),
        blob([sock(1, role=3)]),
        blob([], [itf(1, 1, role=0)]),
        blob([], [itf(1, 1, role=3)]),
        blob([], [itf(1, 1, mode=2)]),
        blob([], [itf(1, 1, enabled=2)]),
        blob([], [itf(1, 1, state=5)]),
        blob([], [itf(1, 1, state=4, log2=32)]),
        blob([], [itf(1, 1, state=1, log2=10)]),  # link details while not connected
        blob([], [itf(1, 1, state=1, nrx=1)]),
        blob([], [itf(1, 1, state=4, nrx=300, ntx=300)]),
        b"MSB1" + (100_001).to_bytes(4, "little") + bytes(4),
        b"MSB1" + (1000).to_bytes(4, "little") + bytes(4) + sock(1),  # counts beyond the bytes
        blob([sock(1, error=b"x" * 4097)]),
    ],
)
def test_out_of_range_blobs_are_refused(bad):
    with pytest.raises(ValueError):
        format_state(bad, "s", "i")
    with pytest.raises(BadBlob):
        decode(bad)


def test_no_dataplane_is_socket_0_alone():
    text = MemifStateText(None, "/run/memif.sock", "<dataplane-state/>").text()
    assert (
        text
        == (
            f'<memif xmlns="{MEMIF_NS}"><socket><id>0</id><filename>/run/memif.sock</filename>'
            "<state/></socket><dataplane-state/></memif>"
        ).encode()
    )
    assert isinstance(StateText(b"", {}).fragments, dict)


def test_interfaces_view():
    ifs = interfaces_state(
        {
            "interfaces": [
                {"socket-id": 1, "id": 2, "mode": "ip", "link-status": "up"},
                {
                    "socket-id": 1,
                    "id": 3,
                    "mac-address": "02:fe:00:00:00:01",
                    "counters": {"rx-bytes": 10, "tx-drops": 2},
                },
            ]
        }
    )
    a, b = ifs.findall(f"{IFQ}interface")
    assert a.findtext(f"{IFQ}name") == "memif1/2"
    assert a.findtext(f"{IFQ}type") == "ianaift:propVirtual"
    assert a.findtext(f"{IFQ}oper-status") == "up"
    assert a.find(f"{IFQ}phys-address") is None
    assert b.findtext(f"{IFQ}type") == "ianaift:ethernetCsmacd"
    assert b.findtext(f"{IFQ}oper-status") == "down"
    stats = {etree.QName(x).localname: x.text for x in b.find(f"{IFQ}statistics")}
    assert stats["in-octets"] == "10" and stats["out-discards"] == "2"
    assert stats["in-unicast-pkts"] == "0"
    assert a.find(f"{IFQ}type").nsmap["ianaift"] == "urn:ietf:params:xml:ns:yang:iana-if-type"


@pytest.mark.parametrize("value", HOSTILE)
def test_interfaces_view_hostile_strings(value):
    b = blob([], [connected(1, 2, strings=[value] * 5)])
    i = check.state(decode(b))["interfaces"][0]
    ifs = interfaces_state({"interfaces": [{**i, "name": i["remote-name"]}]})
    entry = ifs.find(f"{IFQ}interface")
    want = xml_text(i["remote-name"])
    if want:
        assert entry.findtext(f"{IFQ}name") == want
        assert entry.findtext(f"{IFQ}phys-address") == want
