"""RFC 6241 §6 subtree filtering on instance data, without a session: each case
is a filter, a data tree and the exact reply tree expected."""

from __future__ import annotations

import pytest
from lxml import etree

from agent import filters
from agent.schema import shared_context
from agent.schema_index import index_for

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


def run(filt: str) -> str:
    f = etree.fromstring(f'<filter xmlns="{NC}" type="subtree">{filt}</filter>')
    before = etree.tostring(DATA)
    out = filters.subtree(DATA, f, INDEX, f"{{{NC}}}data")
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
def test_subtree(filt: str, want: str) -> None:
    assert run(filt) == want


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
    out = filters.subtree(data, f, INDEX, f"{{{NC}}}data")
    assert [e.text for e in out.iter(f"{{{NS}}}id")] == ["1999"]
