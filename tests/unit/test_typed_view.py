"""The typed view an edit derives incrementally (agent/memif/typed_view.py) must equal
a whole re-read of the edited tree, error or not, for any edit sequence."""

from __future__ import annotations

from copy import deepcopy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.datastore.edit import Editor
from agent.errors import RpcErrors
from agent.memif.config import MemifConfig
from agent.memif.typed_view import TypedViews, after_edit
from agent.rpc.config_events import touched_entries
from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for
from agent.yangdata.tree_diff import changes

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
OP = f'xmlns:nc="{NC}"'

INDEX = index_for(shared_context())
PREFIXES = {NS: "memif-agent"}

ids = st.sampled_from(["1", "2", "3", "01", " 2 "])
ops = st.sampled_from(["", "merge", "replace", "create", "delete", "remove"])


def _op(op: str) -> str:
    return f' nc:operation="{op}"' if op else ""


@st.composite
def socket_edit(draw) -> str:
    sid = draw(ids)
    fname = draw(
        st.sampled_from(["", "<filename>/tmp/a.sock</filename>", "<filename>x</filename>"])
    )
    return f"<socket{_op(draw(ops))}><id>{sid}</id>{fname}</socket>"


@st.composite
def interface_edit(draw) -> str:
    sid, iid = draw(ids), draw(ids)
    leaves = draw(
        st.lists(
            st.sampled_from(
                [
                    "<ring-size>11</ring-size>",
                    "<ring-size>10</ring-size>",  # the default: same typed value, new XML
                    "<ring-size>99</ring-size>",
                    "<role>client</role>",
                    "<rx-queues>2</rx-queues>",
                    '<mode nc:operation="delete"/>',
                    '<enabled nc:operation="remove"/>',
                    "<enabled>true</enabled>",
                ]
            ),
            max_size=3,
        )
    )
    return (
        f"<interface{_op(draw(ops))}><socket-id>{sid}</socket-id><id>{iid}</id>"
        f"{''.join(leaves)}</interface>"
    )


@st.composite
def edit_doc(draw) -> etree._Element:
    parts = draw(st.lists(st.one_of(socket_edit(), interface_edit()), min_size=1, max_size=4))
    container_op = draw(st.sampled_from(["", "", "", "replace", "merge"]))
    return etree.fromstring(
        f'<config xmlns="{NC}" {OP}><memif xmlns="{NS}"{_op(container_op)}>'
        f"{''.join(parts)}</memif></config>"
    )


def _read(tree: etree._Element) -> MemifConfig | str:
    try:
        return MemifConfig.from_config(tree)
    except RpcErrors as e:
        return "error: " + "; ".join(sorted(x.message for x in e.errors))


def _derive(old: MemifConfig | None, work, result) -> MemifConfig | str:
    try:
        return after_edit(old, work, result)
    except RpcErrors:
        return "error"


START = etree.fromstring(
    f'<config xmlns="{NC}"><memif xmlns="{NS}">'
    "<socket><id>1</id><filename>/tmp/1.sock</filename></socket>"
    "<socket><id>2</id><filename>/tmp/2.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>1</id></interface>"
    "<interface><socket-id>1</socket-id><id>2</id><ring-size>12</ring-size></interface>"
    "<interface><socket-id>2</socket-id><id>3</id><role>client</role></interface>"
    "</memif></config>"
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit_doc(), min_size=1, max_size=3))
def test_incremental_view_equals_whole_read(edits):
    tree = START
    view = MemifConfig.from_config(tree)
    for edit in edits:
        work = deepcopy(tree)
        result = Editor(INDEX, PREFIXES, continue_on_error=True).run(work, edit)
        whole = _read(work)
        derived = _derive(view, work, result)
        if isinstance(whole, str):
            # A malformed entry the edit wrote must be refused; an error in an
            # untouched entry cannot exist (every accepted tree was well typed).
            assert derived == "error", (etree.tostring(edit).decode(), whole)
            continue
        assert derived == whole, etree.tostring(edit).decode()
        tree, view = work, derived


MODULES = {NS: "memif-agent"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(edit_doc(), min_size=1, max_size=4), st.integers(0, 3))
def test_touched_entries_narrow_the_config_change_diff_exactly(edits, committed_at):
    """netconf-config-change compares only the entries whose typed objects differ
    (agent.rpc.config_events.touched_entries): it must report what the full diff does,
    between a 'running' and a 'candidate' several accepted edits later."""
    tree, view = START, MemifConfig.from_config(START)
    running, running_view = tree, view
    for n, edit in enumerate(edits):
        work = deepcopy(tree)
        result = Editor(INDEX, PREFIXES, continue_on_error=True).run(work, edit)
        derived = _derive(view, work, result)
        if isinstance(derived, str) or isinstance(_read(work), str):
            continue
        tree, view = work, derived
        if n == committed_at:
            running, running_view = tree, view  # a commit part-way through
    narrow = touched_entries(running, tree, running_view, view)
    full = sorted(changes(running, tree, INDEX, MODULES, inside_created=False))
    narrowed = sorted(changes(running, tree, INDEX, MODULES, inside_created=False, narrow=narrow))
    assert narrowed == full


def test_duplicate_by_value_is_found():
    # "01" and "1" are one key to the typed view, two entries to the editor.
    work = deepcopy(START)
    edit = etree.fromstring(
        f'<config xmlns="{NC}"><memif xmlns="{NS}">'
        "<interface><socket-id>01</socket-id><id>1</id></interface></memif></config>"
    )
    result = Editor(INDEX, PREFIXES).run(work, edit)
    assert result.created
    with pytest.raises(RpcErrors) as e:
        after_edit(MemifConfig.from_config(START), work, result)
    assert "listed twice" in e.value.errors[0].message


def test_views_are_kept_per_tree_object():
    views = TypedViews(size=2)
    a, b, c = deepcopy(START), deepcopy(START), deepcopy(START)
    va = views.get(a)
    assert views.known(a) is va and views.known(b) is None
    views.get(b)
    views.get(c)
    assert views.known(a) is None  # the oldest is dropped
    assert views.get(c) is views.known(c)
