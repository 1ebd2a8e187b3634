"""The edit engine remembers where list entries were (agent/datastore/edit.py _POSITIONS):
a stale or foreign hint must never make it edit the wrong entry."""

from __future__ import annotations

from copy import deepcopy

from lxml import etree

from agent.datastore import edit as edit_mod
from agent.datastore.edit import Editor
from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
INDEX = index_for(shared_context())


def tree(*ids: int) -> etree._Element:
    body = "".join(f"<interface><socket-id>1</socket-id><id>{i}</id></interface>" for i in ids)
    return etree.fromstring(f'<config xmlns="{NC}"><memif xmlns="{NS}">{body}</memif></config>')


def edit(body: str) -> etree._Element:
    return etree.fromstring(
        f'<config xmlns="{NC}" xmlns:nc="{NC}"><memif xmlns="{NS}">{body}</memif></config>'
    )


def ring(iid: int, size: int) -> str:
    return (
        f"<interface><socket-id>1</socket-id><id>{iid}</id>"
        f"<ring-size>{size}</ring-size></interface>"
    )


def sizes(t: etree._Element) -> dict[str, str | None]:
    return {
        e.findtext(f"{{{NS}}}id"): e.findtext(f"{{{NS}}}ring-size")
        for e in t.iter(f"{{{NS}}}interface")
    }


def test_stale_hint_after_earlier_entries_go() -> None:
    t = tree(1, 2, 3, 4)
    Editor(INDEX, {}).run(t, edit(ring(4, 11)))  # hint: entry 4 at index 3
    key = (f"{{{NS}}}interface", ("1", "4"))
    assert edit_mod._POSITIONS[key] == 3
    t2 = deepcopy(t)
    Editor(INDEX, {}).run(
        t2, edit('<interface nc:operation="delete"><socket-id>1</socket-id><id>1</id></interface>')
    )
    # index 3 is now past the end; then entry 2 sits where 3 was
    Editor(INDEX, {}).run(t2, edit(ring(4, 12)))
    assert sizes(t2) == {"2": None, "3": None, "4": "12"}
    t3 = tree(9, 4, 7, 8)  # another tree: index 3 holds entry 8, not 4
    edit_mod._POSITIONS[key] = 3
    Editor(INDEX, {}).run(t3, edit(ring(4, 13)))
    assert sizes(t3) == {"9": None, "4": "13", "7": None, "8": None}


def test_hint_for_an_entry_that_is_gone_creates_it_anew() -> None:
    t = tree(1, 2)
    Editor(INDEX, {}).run(t, edit(ring(5, 11)))  # created at index 2
    t2 = tree(1, 2, 6)  # index 2 is another entry
    Editor(INDEX, {}).run(t2, edit(ring(5, 12)))
    assert sizes(t2) == {"1": None, "2": None, "6": None, "5": "12"}
