"""The <get> state of agent.state_memif and agent.state_interfaces, written as
XML text and parsed once: every value a dataplane (or a memif peer through it)
can hand over comes out as a well-formed, escaped text leaf, in schema order,
with the leaf rules the element-at-a-time builders had."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.memif.interfaces_state import IF_NS, interfaces_state
from agent.memif.state import (
    COUNTERS,
    INTERFACE_STATE,
    MEMIF_NS,
    QUEUE_LEAVES,
    SOCKET_STATE,
    memif_state,
    xml_text,
)

M = f"{{{MEMIF_NS}}}"
IFQ = f"{{{IF_NS}}}"
HOSTILE = [
    "a&b<c>d]]>",
    "x\x00\x01\x1b[31m\x7f\x85\x9f",
    "\ufffe\uffff\ud800\udcff",
    "é" * 3 + "\t\n\r",
    b"\xff\xfe<&>\xc3",
    "&amp; &#0; <!-- -->",
]


def local(el: etree._Element) -> str:
    return etree.QName(el).localname


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_strings_are_escaped_text(value):
    iface = {"socket-id": 1, "id": 2, "counters": {"rx-packets": 5}}
    for k in INTERFACE_STATE:
        iface[k] = value
    iface["queues"] = [{k: value for k in QUEUE_LEAVES}]
    sock = {"id": 1, **{k: value for k in SOCKET_STATE}}
    root = memif_state({"sockets": [sock], "interfaces": [iface]}, socket0="/run/a&b<\x01.sock")
    want = xml_text(value)
    st = root.find(f"{M}interface/{M}state")
    assert [local(c) for c in st][: len(INTERFACE_STATE)] == list(INTERFACE_STATE)
    for c in st[: len(INTERFACE_STATE)]:
        assert c.text == want
    assert [c.text for c in st.find(f"{M}queue")] == [want] * len(QUEUE_LEAVES)
    assert [c.text for c in root.find(f"{M}socket/{M}state")] == [want] * len(SOCKET_STATE)
    # What goes on the wire parses back to the same text.
    again = etree.fromstring(etree.tostring(root))
    assert again.find(f"{M}interface/{M}state/{M}remote-name").text == want

    ifs = interfaces_state({"interfaces": [{**iface, "name": value, "mac-address": value}]})
    entry = ifs.find(f"{IFQ}interface")
    assert entry.findtext(f"{IFQ}name") == want
    assert entry.findtext(f"{IFQ}phys-address") == want
    assert entry.findtext(f"{IFQ}oper-status") == want


def test_leaf_rules():
    state = {
        "sockets": [{"id": 0, "listening": False, "role": None, "error": ""}, {"id": 7}],
        "interfaces": [
            # No name from the dataplane: memif<socket>/<id>; None and "" leaves are left out.
            {"socket-id": 7, "id": 3, "admin-status": "up", "remote-name": "", "ring-size": None},
            # A name of its own; queues in order; counters of 0 kept; bools as true/false.
            {
                "socket-id": 7,
                "id": 4,
                "name": "given",
                "queues": [{"direction": "rx", "id": 0}, {"direction": "tx", "id": 0, "head": 9}],
                "counters": {c: 0 for c in COUNTERS},
                "new-key": "<not in the model>",
            },
            {"socket_id": 8, "id": 5, "counters": {}},
        ],
    }
    root = memif_state(state, socket0="/run/vpp/memif.sock")
    s0, s7 = root.findall(f"{M}socket")
    assert [(local(c), c.text) for c in s0] == [
        ("id", "0"),
        ("filename", "/run/vpp/memif.sock"),
        ("state", None),
    ]
    assert [(local(c), c.text) for c in s0.find(f"{M}state")] == [("listening", "false")]
    assert [local(c) for c in s7] == ["id", "state"] and len(s7.find(f"{M}state")) == 0
    a, b, c = root.findall(f"{M}interface")
    assert [(local(x), x.text) for x in a.find(f"{M}state")] == [
        ("name", "memif7/3"),
        ("admin-status", "up"),
    ]
    bst = b.find(f"{M}state")
    assert bst.findtext(f"{M}name") == "given"
    queues = bst.findall(f"{M}queue")
    assert [[(local(x), x.text) for x in q] for q in queues] == [
        [("direction", "rx"), ("id", "0")],
        [("direction", "tx"), ("id", "0"), ("head", "9")],
    ]
    assert [(local(x), x.text) for x in bst.find(f"{M}counters")] == [(n, "0") for n in COUNTERS]
    assert bst.find(f"{M}new-key") is None
    # socket_id (the event spelling) is read too; empty counters make no element.
    assert [x.text for x in c[:2]] == ["8", "5"]
    assert c.find(f"{M}state/{M}counters") is None


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
    stats = {local(x): x.text for x in b.find(f"{IFQ}statistics")}
    assert stats["in-octets"] == "10" and stats["out-discards"] == "2"
    assert stats["in-unicast-pkts"] == "0"
    # The type's prefix is declared where the value is read.
    assert a.find(f"{IFQ}type").nsmap["ianaift"] == "urn:ietf:params:xml:ns:yang:iana-if-type"
