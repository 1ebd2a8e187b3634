"""RFC 6241 §6 subtree filtering on instance data, without a session: each case
is a filter, a data tree and the exact reply tree expected."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.yangdata import filters
from agent.yangdata.key_index import KeyIndex
from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
INDEX = index_for(shared_context())

DATA = etree.fromstring(
    f'<config xmlns="{NC}"><memif xmlns="{NS}">'
    "<socket><id>1</id><filename>/tmp/1.sock</filename></socket>"
    "<socket><id>2</id><filename>/tmp/2.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>1</id><ring-size>11</ring-size></interface>"
    "<interface><socket-id>1</socket-id><id>2</id><role>server</role></interface>"
    "<interface><socket-id>2</socket-id><id>7</id><role>client</role>"
    "<rx-queues>2</rx-queues></interface>"
    "</memif></config>"
)


def run(filt: str, keys: KeyIndex | None = None) -> str:
    f = etree.fromstring(f'<filter xmlns="{NC}" type="subtree">{filt}</filter>')
    before = etree.tostring(DATA)
    out = filters.subtree(DATA, f, INDEX, f"{{{NC}}}data", keys)
    assert etree.tostring(DATA) == before  # the datastore is never touched
    inner = b"".join(etree.tostring(c) for c in out).decode()
    return inner.replace(f' xmlns="{NS}"', "")


@pytest.mark.parametrize(
    "filt, want",
    [
        # §6.4.2: an empty filter selects nothing
        ("", ""),
        # §6.4.3: a top-level selection node selects the whole subtree
        (f'<memif xmlns="{NS}"/>', etree.tostring(DATA[0]).decode().replace(f' xmlns="{NS}"', "")),
        # content match on a key: that entry, whole (even with nothing but keys)
        (
            f'<memif xmlns="{NS}"><socket><id>2</id></socket></memif>',
            "<memif><socket><id>2</id><filename>/tmp/2.sock</filename></socket></memif>",
        ),
        (
            f'<memif xmlns="{NS}"><interface><id>1</id></interface></memif>',
            "<memif><interface><socket-id>1</socket-id><id>1</id><ring-size>11</ring-size>"
            "</interface></memif>",
        ),
        (
            f'<memif xmlns="{NS}"><socket><id>2</id></socket></memif>',
            "<memif><socket><id>2</id><filename>/tmp/2.sock</filename></socket></memif>",
        ),
        # two content matches must both hold (socket-id 1 and id 2)
        (
            f'<memif xmlns="{NS}"><interface><socket-id>1</socket-id><id>2</id></interface>'
            "</memif>",
            "<memif><interface><socket-id>1</socket-id><id>2</id><role>server</role>"
            "</interface></memif>",
        ),
        # content match plus selection: the keys and the selected leaf only
        (
            f'<memif xmlns="{NS}"><interface><socket-id>2</socket-id><rx-queues/></interface>'
            "</memif>",
            "<memif><interface><socket-id>2</socket-id><id>7</id><rx-queues>2</rx-queues>"
            "</interface></memif>",
        ),
        # a selection node inside a list keeps each entry's keys; entries without it vanish
        (
            f'<memif xmlns="{NS}"><interface><role/></interface></memif>',
            "<memif><interface><socket-id>1</socket-id><id>2</id><role>server</role></interface>"
            "<interface><socket-id>2</socket-id><id>7</id><role>client</role></interface></memif>",
        ),
        # no entry matches: nothing, not even the container
        (f'<memif xmlns="{NS}"><socket><id>9</id></socket></memif>', ""),
        # §6.2.1: a filter node without a namespace matches any namespace
        (
            '<memif xmlns=""><socket><id>1</id><filename/></socket></memif>',
            "<memif><socket><id>1</id><filename>/tmp/1.sock</filename></socket></memif>",
        ),
        # a wrong namespace matches nothing
        ('<memif xmlns="urn:other"/>', ""),
        # leading and trailing spaces in a content match are not significant
        (
            f'<memif xmlns="{NS}"><socket><id> 1 </id><filename/></socket></memif>',
            "<memif><socket><id>1</id><filename>/tmp/1.sock</filename></socket></memif>",
        ),
    ],
)
@pytest.mark.parametrize("keys", [None, KeyIndex()], ids=["walk", "key-index"])
def test_subtree(filt: str, want: str, keys: KeyIndex | None) -> None:
    assert run(filt, keys) == want


def test_content_match_on_every_entry_of_a_big_list():
    # 2,000 entries, one selected: the cost stays one pass over the list.
    body = "".join(
        f"<interface><socket-id>1</socket-id><id>{i}</id></interface>" for i in range(2000)
    )
    data = etree.fromstring(f'<config xmlns="{NC}"><memif xmlns="{NS}">{body}</memif></config>')
    f = etree.fromstring(
        f'<filter xmlns="{NC}"><memif xmlns="{NS}"><interface><id>1999</id></interface>'
        "</memif></filter>"
    )
    for keys in (None, KeyIndex()):
        out = filters.subtree(data, f, INDEX, f"{{{NC}}}data", keys)
        assert [e.text for e in out.iter(f"{{{NS}}}id")] == ["1999"]


def test_key_index_finds_entries_by_every_key():
    keys = KeyIndex()
    memif = DATA[0]
    info = INDEX[f"{{{NS}}}memif"].children[f"{{{NS}}}interface"]
    by_key = keys.entries(memif, info)
    assert sorted(by_key) == [("1", "1"), ("1", "2"), ("2", "7")]
    assert keys.entries(memif, info) is by_key  # built once per tree
    # a filter naming both keys, one with spaces, and a non-key content match
    f = (
        f'<memif xmlns="{NS}"><interface><socket-id> 2 </socket-id><id>7</id>'
        "<role>client</role><rx-queues/></interface></memif>"
    )
    want = (
        "<memif><interface><socket-id>2</socket-id><id>7</id><role>client</role>"
        "<rx-queues>2</rx-queues></interface></memif>"
    )
    assert run(f, keys) == run(f) == want
    f = (
        f'<memif xmlns="{NS}"><interface><socket-id>2</socket-id><id>7</id>'
        "<role>server</role></interface></memif>"
    )
    assert run(f, keys) == run(f) == ""


def test_top_level_tells_which_providers_a_filter_needs():
    def pred(body: str):
        return filters.top_level(etree.fromstring(f'<filter xmlns="{NC}">{body}</filter>'))

    memif, itfs = f"{{{NS}}}memif", "{urn:ietf:params:xml:ns:yang:ietf-interfaces}interfaces"
    p = pred(f'<memif xmlns="{NS}"><socket/></memif>')
    assert p(memif) and not p(itfs)
    p = pred('<interfaces xmlns=""/>')  # unqualified: any namespace
    assert p(itfs) and not p(memif)
    p = pred(f'<memif xmlns="{NS}"/><x:interfaces xmlns:x="{itfs[1:].split("}")[0]}"/>')
    assert p(memif) and p(itfs)
    assert not pred("")(memif)  # an empty filter selects nothing


@pytest.mark.parametrize(
    "select, want",
    [
        # a key leaf selected on its own appears once (it was copied twice: with
        # its entry's keys, then as the selected node; found by fuzzing)
        ("/m:memif/m:socket/m:id", "<socket><id>1</id></socket><socket><id>2</id></socket>"),
        (
            "/m:memif/m:interface[m:id='7']/m:socket-id | /m:memif/m:interface[m:id='7']/m:role",
            "<interface><socket-id>2</socket-id><id>7</id><role>client</role></interface>",
        ),
    ],
)
def test_xpath_selecting_keys(select: str, want: str) -> None:
    f = etree.Element(f"{{{NC}}}filter", nsmap={"m": NS}, type="xpath", select=select)
    out = filters.xpath(DATA, f, INDEX, f"{{{NC}}}data")
    inner = b"".join(etree.tostring(c) for c in out).decode().replace(f' xmlns="{NS}"', "")
    assert inner == f"<memif>{want}</memif>"
