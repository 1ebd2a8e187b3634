"""agent.yangdata.tree_diff on hand-made trees: what NACM checks and config-change reports."""

from __future__ import annotations

from lxml import etree

from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for
from agent.yangdata.tree_diff import changes

NS = "urn:memif-agent:yang:memif-agent"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
INDEX = index_for(shared_context())
MODULES = {NS: "memif-agent", NACM: "ietf-netconf-acm"}
E = "/memif-agent:memif/memif-agent:interface[memif-agent:socket-id='1'][memif-agent:id='{}']"


def tree(*entries: str, extra: str = "") -> etree._Element:
    return etree.fromstring(
        f'<config><memif xmlns="{NS}">{"".join(entries)}</memif>{extra}</config>'
    )


def itf(iid: int, body: str = "") -> str:
    return f"<interface><socket-id>1</socket-id><id>{iid}</id>{body}</interface>"


def diff(old, new, inside_created=False) -> list[tuple[str, str]]:
    return [(op, xp) for op, _, _, _, xp in changes(old, new, INDEX, MODULES, inside_created)]


def test_create_update_delete() -> None:
    old = tree(itf(1, "<ring-size>10</ring-size>"), itf(2), itf(4))
    new = tree(itf(1, "<ring-size>11</ring-size>"), itf(3, "<mode>ip</mode>"), itf(4))
    assert sorted(diff(old, new)) == sorted(
        [
            ("update", E.format(1) + "/memif-agent:ring-size"),
            ("delete", E.format(2)),
            ("create", E.format(3)),
        ]
    )
    # NACM wants every node a create makes
    assert ("create", E.format(3) + "/memif-agent:mode") in diff(old, new, inside_created=True)


def test_identical_trees_and_reordered_entries() -> None:
    a = tree(itf(1), itf(2))
    assert diff(a, tree(itf(1), itf(2))) == []
    assert diff(a, tree(itf(2), itf(1))) == []  # keyed, not positional
    assert diff(a, a) == []


def test_same_value_written_differently_is_no_change() -> None:
    old = tree(itf(1, "<ring-size>10</ring-size>"))
    new = tree(itf(1, f'<ring-size xmlns:x="{NACM}">10</ring-size>'))
    assert diff(old, new) == []


def test_leaf_list_values_and_quotes() -> None:
    def nacm(*groups: str) -> etree._Element:
        names = "".join(f"<user-name>{g}</user-name>" for g in groups)
        return tree(
            extra=f'<nacm xmlns="{NACM}"><groups><group><name>o\'k</name>{names}'
            "</group></groups></nacm>"
        )

    got = diff(nacm("a", "b"), nacm("b", "c"))
    a = "ietf-netconf-acm"
    base = f'/{a}:nacm/{a}:groups/{a}:group[{a}:name="o\'k"]'
    assert sorted(got) == [
        ("create", base + "/ietf-netconf-acm:user-name[.='c']"),
        ("delete", base + "/ietf-netconf-acm:user-name[.='a']"),
    ]


def test_whole_container_created_and_deleted() -> None:
    empty = etree.fromstring("<config/>")
    full = tree(itf(1))
    assert diff(empty, full) == [("create", "/memif-agent:memif")]
    assert diff(full, empty) == [("delete", "/memif-agent:memif")]
