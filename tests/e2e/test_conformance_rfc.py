"""RFC 6241/6243/7950 points where the agent once disagreed with yuma123 netconfd
and the RFC (issue 13, items 1-11 and 17-19), each end to end over real SSH:
ncclient against an agent subprocess, raw asyncssh sessions where the framing
or the base version matters."""

from __future__ import annotations

import pytest
from agent_harness import HELLO10, HELLO11, Raw, arun
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
WD_ATTR_NS = "urn:ietf:params:xml:ns:netconf:default:1.0"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


def memif(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def sock(sid: int, extra: str = "") -> str:
    return f"<socket><id>{sid}</id><filename>/tmp/ma-conf-{sid}.sock</filename>{extra}</socket>"


def itf(sid: int, iid: int, body: str = "") -> str:
    return f"<interface><socket-id>{sid}</socket-id><id>{iid}</id>{body}</interface>"


def err(fn, *a, **kw) -> RPCError:
    with pytest.raises(RPCError) as exc:
        fn(*a, **kw)
    return exc.value


def info(e: RPCError) -> dict[str, str]:
    return {
        etree.QName(c).localname: (c.text or "") for c in e.xml.iterfind(f"{{{NC}}}error-info/*")
    }


def socket_ids(m, source: str = "running") -> list[str]:
    d = m.get_config(source).data
    return d.xpath("//m:socket/m:id/text()", namespaces={"m": NS})


def subtree(body: str) -> etree._Element:
    """A <filter> element: ncclient's ("subtree", text) form takes one root only."""
    return etree.fromstring(f'<filter xmlns="{NC}" type="subtree">{body}</filter>')


def dispatch(m, xml: str):
    return m.dispatch(to_ele(xml))


# -- item 1: unknown RPC content is refused, never ignored -------------------------------------


def test_misspelled_parameter_is_unknown_element_and_changes_nothing(ag):
    m = ag.connect()
    e = err(
        dispatch,
        m,
        f'<edit-config xmlns="{NC}"><target><running/></target>'
        f"<test-optoin>test-only</test-optoin>{memif(sock(1))}</edit-config>",
    )
    assert (e.tag, e.type, e.path) == ("unknown-element", "protocol", "/nc:rpc/nc:edit-config")
    assert info(e) == {"bad-element": "test-optoin"}
    assert socket_ids(m) == []  # the dry run was not applied live


@pytest.mark.parametrize(
    "body, tag, want",
    [
        (
            f'<get xmlns="{NC}"><fliter><memif xmlns="{NS}"/></fliter></get>',
            "unknown-element",
            {"bad-element": "fliter"},
        ),
        (
            f'<get xmlns="{NC}"><filter xmlns="urn:nope"><memif xmlns="{NS}"/></filter></get>',
            "unknown-namespace",
            {"bad-element": "filter", "bad-namespace": "urn:nope"},
        ),
        (
            f'<get-config xmlns="{NC}"><source><running/></source><fliter/></get-config>',
            "unknown-element",
            {"bad-element": "fliter"},
        ),
    ],
)
def test_misspelled_filter_is_refused_not_everything(ag, body, tag, want):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1)))
    e = err(dispatch, m, body)
    assert (e.tag, info(e)) == (tag, want)


def test_unknown_element_in_lock_takes_no_lock(ag):
    m, other = ag.connect(), ag.connect()
    e = err(dispatch, m, f'<lock xmlns="{NC}"><target><candidate/></target><bogus/></lock>')
    assert (e.tag, info(e), e.path) == (
        "unknown-element",
        {"bad-element": "bogus"},
        "/nc:rpc/nc:lock",
    )
    other.lock("candidate")  # nobody holds it


@pytest.mark.parametrize(
    "attr", ['foo="1"', f'xmlns:nc="{NC}" nc:foo="1"', 'xmlns:x="urn:x" x:a="b"']
)
def test_unknown_attribute_on_data_node(ag, attr):
    m = ag.connect()
    cfg = f'<config><memif xmlns="{NS}"><socket {attr}><id>1</id></socket></memif></config>'
    e = err(m.edit_config, target="running", config=cfg)
    assert (e.tag, e.type) == ("unknown-attribute", "protocol")
    assert e.path == "/memif-agent:memif/memif-agent:socket[memif-agent:id='1']"
    assert info(e)["bad-element"] == "socket" and info(e)["bad-attribute"] in ("foo", "a")
    assert socket_ids(m) == []


@pytest.mark.parametrize(
    "body, path",
    [
        (
            f'<get-config xmlns="{NC}" foo="1"><source><running/></source></get-config>',
            "/nc:rpc/nc:get-config",
        ),
        (
            f'<get-config xmlns="{NC}"><source><candidate foo="1"/></source></get-config>',
            "/nc:rpc/nc:get-config/nc:source/nc:candidate",
        ),
        (
            f'<get xmlns="{NC}"><filter type="subtree" nc:x="1" xmlns:nc="{NC}"/></get>',
            "/nc:rpc/nc:get/nc:filter",
        ),
    ],
)
def test_unknown_attribute_on_rpc_parameters(ag, body, path):
    e = err(dispatch, ag.connect(), body)
    assert (e.tag, e.path) == ("unknown-attribute", path)
    assert "bad-attribute" in info(e)


# -- item 2: no running lock while another session's confirmed commit is pending -------------


def test_running_lock_refused_during_other_sessions_confirmed_commit(ag):
    a, b = ag.connect(), ag.connect()
    a.edit_config(target="candidate", config=memif(sock(1)))
    a.commit(confirmed=True, timeout="120")
    e = err(b.lock, "running")
    assert (e.tag, info(e)) == ("lock-denied", {"session-id": a.session_id})
    a.lock("running")  # the confirming session itself may
    a.unlock("running")
    a.commit()  # confirmed
    b.lock("running")  # and once confirmed, anyone


# -- item 3: sibling subtree fragments with the same root are a union ------------------------


def test_subtree_fragments_with_the_same_root_are_a_union(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + sock(2) + sock(3)))
    filt = (
        f'<memif xmlns="{NS}"><socket><id>1</id></socket></memif>'
        f'<memif xmlns="{NS}"><socket><id>2</id></socket></memif>'
    )
    d = m.get_config("running", filter=subtree(filt)).data
    assert d.xpath("//m:socket/m:id/text()", namespaces={"m": NS}) == ["1", "2"]
    assert len(d.findall(f"{{{NS}}}memif")) == 1
    # Two selections of the same entry: both kept, in one entry.
    filt = (
        f'<memif xmlns="{NS}"><socket><id>1</id><id/></socket></memif>'
        f'<memif xmlns="{NS}"><socket><id>1</id><filename/></socket></memif>'
    )
    d = m.get_config("running", filter=subtree(filt)).data
    (s,) = d.xpath("//m:socket", namespaces={"m": NS})
    assert [etree.QName(c).localname for c in s] == ["id", "filename"]


# -- item 4: default-operation none below a missing list entry --------------------------------


def test_default_operation_none_below_a_missing_entry_is_data_missing(ag):
    m = ag.connect()
    e = err(
        m.edit_config,
        target="running",
        default_operation="none",
        config=memif(
            f'<socket><id>7</id><filename xmlns:nc="{NC}" nc:operation="merge">/tmp/x.sock'
            "</filename></socket>"
        ),
    )
    assert (e.tag, e.path) == (
        "data-missing",
        "/memif-agent:memif/memif-agent:socket[memif-agent:id='7']",
    )
    assert socket_ids(m) == []


# -- item 5: no malformed-message for a base:1.0 session --------------------------------------


@pytest.mark.parametrize(
    "hello, tag", [(HELLO10, "operation-failed"), (HELLO11, "malformed-message")]
)
def test_malformed_message_only_for_base11(ag, hello, tag):
    async def go():
        s = await Raw.open(ag.port, hello=hello)
        s.send(b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="7"><get>')
        reply = etree.fromstring(await s.read())
        ok = await s.call(b"<get-config><source><running/></source></get-config>", 8)
        s.close()
        return reply, ok

    reply, ok = arun(go())
    assert reply.get("message-id") == "7"
    assert reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-tag") == tag
    assert reply.findtext(f"{{{NC}}}rpc-error/{{{NC}}}error-type") == "rpc"
    assert ok.find(f"{{{NC}}}data") is not None  # the session lives on


# -- item 6: one error-path form for RPC parameters -------------------------------------------


def test_error_paths_of_parameters_start_at_rpc(ag):
    m = ag.connect()
    e = err(
        dispatch,
        m,
        f'<edit-config xmlns="{NC}"><target><running/></target>'
        f"<test-option>maybe</test-option>{memif('')}</edit-config>",
    )
    assert (e.tag, e.path) == ("invalid-value", "/nc:rpc/nc:edit-config/nc:test-option")
    e = err(m.kill_session, "99999")
    assert (e.tag, e.path) == ("invalid-value", "/nc:rpc/nc:kill-session/nc:session-id")
    e = err(dispatch, m, f'<commit xmlns="{NC}"><persist-id>nope</persist-id></commit>')
    assert (e.tag, e.path) == ("invalid-value", "/nc:rpc/nc:commit/nc:persist-id")
    e = err(dispatch, m, f'<get xmlns="{NC}"><with-defaults xmlns="{WD}">all</with-defaults></get>')
    assert (e.tag, e.path) == ("invalid-value", "/nc:rpc/nc:get/ncwd:with-defaults")
    # The prefixes an error-path uses are declared on it.
    p = e.xml.find(f"{{{NC}}}error-path")
    assert p.nsmap.get("nc") == NC and p.nsmap.get("ncwd") == WD


# -- item 7: wd:default in edit-config ---------------------------------------------------------


def test_wd_default_attribute_in_edits(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + itf(1, 1, "<ring-size>12</ring-size>")))
    tagged = f'<ring-size xmlns:wd="{WD_ATTR_NS}" wd:default="true">'
    e = err(m.edit_config, target="running", config=memif(itf(1, 1, f"{tagged}11</ring-size>")))
    assert (e.tag, info(e)) == ("invalid-value", {"bad-element": "ring-size"})
    assert e.path.endswith("/memif-agent:ring-size")
    d = m.get_config("running").data
    assert d.xpath("//m:ring-size/text()", namespaces={"m": NS}) == ["12"]  # unchanged
    # The default value tagged as default: set to its default (no longer explicit).
    m.edit_config(target="running", config=memif(itf(1, 1, f"{tagged}10</ring-size>")))
    d = m.get_config("running").data
    assert d.xpath("//m:ring-size", namespaces={"m": NS}) == []
    e = err(
        m.edit_config,
        target="running",
        config=memif(
            itf(1, 1, f'<ring-size xmlns:wd="{WD_ATTR_NS}" wd:default="yes">10</ring-size>')
        ),
    )
    assert e.tag == "bad-attribute"


# -- item 8: XPath context node is the datastore root -----------------------------------------


def test_xpath_context_is_the_root(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + sock(2)))
    filt = etree.fromstring(f'<filter xmlns:memif="{NS}" type="xpath" select="/"/>')
    full = m.get_config("running").data
    d = m.get_config("running", filter=filt).data
    assert etree.tostring(d, method="c14n") == etree.tostring(full, method="c14n")
    filt.set("select", "memif:memif/memif:socket")
    d = m.get_config("running", filter=filt).data
    assert d.xpath("//m:socket/m:id/text()", namespaces={"m": NS}) == ["1", "2"]
    filt.set("select", "memif:memif/memif:socket[memif:id='2']/memif:filename")
    d = m.get_config("running", filter=filt).data
    assert d.xpath("//m:filename/text()", namespaces={"m": NS}) == ["/tmp/ma-conf-2.sock"]


# -- item 9: a node whose when is false is an unknown element ---------------------------------


def test_when_false_is_unknown_element(ag):
    m = ag.connect()
    # rx-queues: when "../role = 'client'"; the role is server by default.
    e = err(
        m.edit_config,
        target="running",
        config=memif(sock(1) + itf(1, 1, "<rx-queues>2</rx-queues>")),
    )
    assert (e.tag, info(e)) == ("unknown-element", {"bad-element": "rx-queues"})
    assert e.path.endswith(":rx-queues")
    assert socket_ids(m) == []


# -- items 10 and 11: candidate locks and others' changes -------------------------------------


def test_own_uncommitted_changes_block_the_candidate_lock(ag):
    m = ag.connect()
    m.edit_config(target="candidate", config=memif(sock(1)))
    e = err(m.lock, "candidate")
    assert (e.tag, info(e)) == ("lock-denied", {"session-id": m.session_id})
    m.discard_changes()
    m.lock("candidate")


def test_changes_of_a_closed_session_name_it(ag):
    a, b = ag.connect(), ag.connect()
    a.edit_config(target="candidate", config=memif(sock(1)))
    sid = a.session_id
    a.close_session()
    e = err(b.lock, "candidate")
    assert (e.tag, info(e)) == ("lock-denied", {"session-id": sid})


def test_commit_refused_while_another_session_holds_the_candidate_lock(ag):
    a, b = ag.connect(), ag.connect()
    a.lock("candidate")
    a.edit_config(target="candidate", config=memif(sock(1)))
    e = err(b.commit)
    assert (e.tag, e.type, info(e)) == ("in-use", "protocol", {"session-id": a.session_id})
    assert socket_ids(b) == []  # the holder's half-done change did not go live
    a.commit()
    assert socket_ids(b) == ["1"]
    b.commit()  # an unchanged candidate: nothing of the holder's to commit


# -- items 17-19: what is advertised is what is served ----------------------------------------


def test_get_schema_serves_every_listed_module(ag):
    m = ag.connect()
    lib = m.get(
        filter=("subtree", '<yang-library xmlns="urn:ietf:params:xml:ns:yang:ietf-yang-library"/>')
    ).data
    y = {"y": "urn:ietf:params:xml:ns:yang:ietf-yang-library"}
    listed = {
        (mod.findtext("y:name", namespaces=y), mod.findtext("y:revision", namespaces=y) or "")
        for mod in lib.xpath("//y:module | //y:import-only-module", namespaces=y)
    }
    assert ("yang", "2022-06-16") in listed
    for name, rev in sorted(listed):
        text = m.get_schema(name, version=rev or None).data
        assert f"module {name}" in text, name


def test_confirmed_commit_10_is_advertised(ag):
    caps = list(ag.connect().server_capabilities)
    assert "urn:ietf:params:netconf:capability:confirmed-commit:1.0" in caps
    assert "urn:ietf:params:netconf:capability:confirmed-commit:1.1" in caps


def test_unfiltered_get_validates_against_the_advertised_schema(start_agent, tmp_path):
    from agent.yangdata.schema import new_context

    a = start_agent(tmp_path / "dp")  # with the dataplane: interface state is reported
    m = a.connect()
    m.edit_config(
        target="running",
        config=memif(
            f"<socket><id>1</id><filename>{tmp_path}/s1.sock</filename></socket>" + itf(1, 1)
        ),
    )
    data = m.get().data
    assert data.find("{urn:ietf:params:xml:ns:yang:ietf-interfaces}interfaces") is not None
    body = b"".join(etree.tostring(c) for c in data)
    ctx = new_context()  # the features the agent advertises, no more
    try:
        tree = ctx.parse_data_mem(body, "xml", strict=True)
        assert tree is not None
        tree.free()
    finally:
        ctx.destroy()
