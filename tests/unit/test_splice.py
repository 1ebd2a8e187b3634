"""<get> of <memif/> by splicing state text into running's serialized text
(agent.yangdata.splice) gives the document the tree merge gives, or declines."""

from __future__ import annotations

from copy import deepcopy

import pytest
from lxml import etree

from agent.memif.state import INTERFACE, SOCKET, MemifStateText
from agent.yangdata.schema import shared_context
from agent.yangdata.schema_index import index_for
from agent.yangdata.splice import MARK, TopSplice
from agent.yangdata.xmltree import NC, merge_into
from dataplane.state_blob import from_wire
from tests.support.state_blob_vectors import blob, itf, sock

NCNS = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
MEMIF = f"{{{NS}}}memif"
INDEX = index_for(shared_context())

RUNNING = (
    f'<config xmlns="{NCNS}"><memif xmlns="{NS}">'
    "<socket><id>1</id><filename>/tmp/1.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>1</id><ring-size>11</ring-size></interface>"
    "<socket><id>2</id><filename>/tmp/2.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>2</id><role>client</role></interface>"
    "</memif></config>"
)


def state() -> MemifStateText:
    b = blob(
        [sock(0), sock(1, count=2, error=b"a<b&c"), sock(2, listening=0, role=0)],
        [
            itf(1, 2, role=2, state=2, strings=[b"", b"peer\xffgone", b"", b"vpp", b""]),
            itf(1, 1),
            itf(9, 9, state=0, enabled=0),  # not configured: appended
        ],
    )
    return MemifStateText(from_wire(b, SOCKET, INTERFACE), "/run/m&0.sock", "<dataplane-state/>")


def merged(running: etree._Element, st: MemifStateText) -> bytes:
    """What <get> of <memif/> gave before: the state tree merged into running."""
    tree = deepcopy(running)
    wrapper = etree.Element("w")
    wrapper.append(st.tree())
    merge_into(tree, wrapper, INDEX)
    data = etree.Element(NC + "data", nsmap={None: NCNS})
    for top in tree.iterchildren(MEMIF):
        data.append(deepcopy(top))
    return etree.tostring(data, method="c14n")


def c14n(b: bytes) -> bytes:
    return etree.tostring(etree.fromstring(b), method="c14n")


@pytest.mark.parametrize(
    "running",
    [
        RUNNING,
        f'<config xmlns="{NCNS}"/>',  # nothing configured: the state alone
        f'<config xmlns="{NCNS}"><memif xmlns="{NS}"/></config>',
        RUNNING.replace("<ring-size>11</ring-size>", "<ring-size>11</ring-size><!-- a -->"),
    ],
)
def test_splice_is_the_merge(running):
    run = etree.fromstring(running)
    st = state()
    splice = TopSplice(MEMIF, None)
    got = splice.reply(run, INDEX, st)
    assert got is not None
    assert c14n(got) == merged(run, st)
    # Unconfigured entries follow the configured ones, in the state's order.
    text = got.decode()
    if "client" in running:
        assert text.index("<id>9</id>") > text.index("<id>2</id><role>client</role>")
    assert text.index("<socket><id>0</id><filename>/run/m&amp;0.sock</filename>") > 0
    assert text.endswith("<dataplane-state/></memif></data>")


def test_cut_once_per_snapshot():
    run = etree.fromstring(RUNNING)
    splice = TopSplice(MEMIF, None)
    assert not splice.has_cut(run)
    first = splice.reply(run, INDEX, state())
    assert splice.has_cut(run)
    assert splice.reply(run, INDEX, state()) == first
    other = deepcopy(run)
    other[0].remove(other[0][0])
    assert not splice.has_cut(other)
    assert c14n(splice.reply(other, INDEX, state())) == merged(other, state())


@pytest.mark.parametrize(
    "running",
    [
        # A prefixed configuration: unprefixed state text would land in another namespace.
        f'<config xmlns="{NCNS}"><m:memif xmlns:m="{NS}"><m:socket><m:id>1</m:id></m:socket>'
        "</m:memif></config>",
        f'<config xmlns="{NCNS}"><memif xmlns="{NS}"><m:socket xmlns:m="{NS}"><m:id>1</m:id>'
        "</m:socket></memif></config>",
        # A marker in a comment: the cut would not find its own markers alone.
        f'<config xmlns="{NCNS}"><memif xmlns="{NS}"><socket><id>1</id>'
        f"<!--{MARK.decode()}--></socket></memif></config>",
    ],
)
def test_declines_what_it_cannot_splice(running):
    assert TopSplice(MEMIF, None).reply(etree.fromstring(running), INDEX, state()) is None


def subtree_of(tree: etree._Element, filt: str) -> bytes:
    from agent.yangdata import filters

    f = etree.fromstring(f'<filter xmlns="{NCNS}">{filt}</filter>')
    return etree.tostring(
        filters.subtree(tree, f, INDEX, NC + "data", None, None), method="c14n", exclusive=True
    )


def merged_tree(running: etree._Element, st: MemifStateText) -> etree._Element:
    tree = deepcopy(running)
    wrapper = etree.Element("w")
    wrapper.append(st.tree())
    merge_into(tree, wrapper, INDEX)
    return tree


I1, I2 = (f"{{{NS}}}interface", ("1", "1")), (f"{{{NS}}}interface", ("1", "2"))
S0, S2 = (f"{{{NS}}}socket", ("0",)), (f"{{{NS}}}socket", ("2",))
I99 = (f"{{{NS}}}interface", ("9", "9"))


@pytest.mark.parametrize(
    "wanted, filt",
    [
        ([I2], "<interface><socket-id>1</socket-id><id>2</id></interface>"),
        # filter order, once each; a state-only entry (socket 0, memif9/9) in its place
        (
            [S2, I1, S0, I2, I1, I99],
            "<socket><id>2</id></socket><interface><socket-id>1</socket-id><id>1</id></interface>"
            "<socket><id>0</id></socket><interface><id>2</id><socket-id>1</socket-id></interface>"
            "<interface><socket-id>1</socket-id><id>1</id></interface>"
            "<interface><socket-id>9</socket-id><id>9</id></interface>",
        ),
        # nothing of that name: <data/>, as the subtree filter answers
        (
            [(f"{{{NS}}}interface", ("5", "5"))],
            "<interface><socket-id>5</socket-id><id>5</id></interface>",
        ),
    ],
)
def test_keyed_entries_are_the_filtered_merge(wanted, filt):
    from agent.yangdata.key_index import KeyIndex

    run = etree.fromstring(RUNNING)
    st = state()
    got = TopSplice(MEMIF, None).entries_reply(run, INDEX, st, wanted, KeyIndex())
    assert got is not None
    want = subtree_of(merged_tree(run, st), f'<memif xmlns="{NS}">{filt}</memif>')
    assert etree.tostring(etree.fromstring(got), method="c14n", exclusive=True) == want
