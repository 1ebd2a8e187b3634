"""The edit engine's error paths (formatted only when an error reports them)
and the leaves it writes (a value with a ':' keeps the edit's prefixes in scope;
others get no namespace declarations of their own)."""

from __future__ import annotations

from lxml import etree

from agent.datastore.edit import Editor
from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
INDEX = index_for(shared_context())
PREFIXES = {NS: "memif-agent"}
ENTRY = "/memif-agent:memif/memif-agent:interface[memif-agent:socket-id='1'][memif-agent:id='2']"


def empty() -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}"/>')


def edit(body: str) -> etree._Element:
    return etree.fromstring(
        f'<config xmlns="{NC}" xmlns:nc="{NC}" xmlns:x="urn:x">'
        f'<memif xmlns="{NS}">{body}</memif></config>'
    )


def run(target: etree._Element, body: str, **kw):
    return Editor(INDEX, PREFIXES, **kw).run(target, edit(body))


def test_errors_deep_in_an_entry_carry_its_whole_path() -> None:
    r = run(
        empty(),
        "<interface><socket-id>1</socket-id><id>2</id>"
        '<ring-size nc:operation="bogus">11</ring-size></interface>',
    )
    assert [(e.tag, e.path) for e in r.errors] == [
        ("bad-attribute", ENTRY + "/memif-agent:ring-size")
    ]
    r = run(empty(), "<interface><socket-id>1</socket-id><id>2</id><nonsense/></interface>")
    assert [(e.tag, e.path) for e in r.errors] == [("unknown-element", ENTRY)]
    assert ENTRY in r.errors[0].message


def test_data_exists_and_missing_name_the_entry() -> None:
    t = empty()
    assert not run(t, "<interface><socket-id>1</socket-id><id>2</id></interface>").errors
    r = run(t, '<interface nc:operation="create"><socket-id>1</socket-id><id>2</id></interface>')
    assert [(e.tag, e.path) for e in r.errors] == [("data-exists", ENTRY)]
    assert r.errors[0].message == f"{ENTRY} already exists"
    r = run(t, '<interface nc:operation="delete"><socket-id>1</socket-id><id>3</id></interface>')
    assert r.errors[0].tag == "data-missing"
    assert r.errors[0].path == ENTRY.replace("id='2'", "id='3'")


def test_leaves_written_and_their_namespaces() -> None:
    t = empty()
    r = run(
        t,
        "<interface><socket-id>1</socket-id><id>2</id><ring-size> 11 </ring-size>"
        "<mac-address>02:fe:00:00:00:01</mac-address></interface>",
    )
    assert not r.errors and r.changed
    entry = t.find(f"{{{NS}}}memif/{{{NS}}}interface")
    ring = entry.find(f"{{{NS}}}ring-size")
    assert ring.text == " 11 "  # raw: the typed view decides what spaces mean
    # Declared once, by <memif>: not again on every entry and leaf.
    assert etree.tostring(t).count(f'xmlns="{NS}"'.encode()) == 1
    mac = entry.find(f"{{{NS}}}mac-address")
    assert mac.text == "02:fe:00:00:00:01"
    assert mac.nsmap.get("x") == "urn:x"  # a value with ':' may name an edit prefix
    # The keys were copied once, stripped, and not again from the edit's children.
    assert [c.tag.split("}")[1] for c in entry] == ["socket-id", "id", "ring-size", "mac-address"]
