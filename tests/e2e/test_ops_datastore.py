"""RFC 6241 configuration operations end to end: ncclient over real SSH against
an agent subprocess (no dataplane), with the datastore files on disk checked."""

from __future__ import annotations

import re
import time

import pytest
from agent_harness import wait_until
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


def memif(body: str, op: str = "") -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    return f'<config><memif xmlns="{NS}"{attr}>{body}</memif></config>'


def sock(sid: int, fname: str | None = None, op: str = "") -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    f = f"<filename>{fname or f'/tmp/ma-test-{sid}.sock'}</filename>" if op != "delete" else ""
    return f"<socket{attr}><id>{sid}</id>{f}</socket>"


def itf(sid: int, iid: int, op: str = "", **leaves: str) -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    body = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>" for k, v in leaves.items())
    return f"<interface{attr}><socket-id>{sid}</socket-id><id>{iid}</id>{body}</interface>"


def data(m, source: str = "running", **kw) -> etree._Element:
    return m.get_config(source, **kw).data


def xp(el: etree._Element, path: str) -> list:
    return el.xpath(path, namespaces={"m": NS, "nc": NC, "wd": WD})


def ids(m, source: str = "running") -> list[tuple[str, str]]:
    d = data(m, source)
    return [
        (i.findtext(f"{{{NS}}}socket-id"), i.findtext(f"{{{NS}}}id"))
        for i in xp(d, "//m:interface")
    ]


def rpc_error(fn, *a, **kw) -> RPCError:
    with pytest.raises(RPCError) as exc:
        fn(*a, **kw)
    return exc.value


def test_candidate_commit_persists_and_survives_restart(ag):
    m = ag.connect()
    m.edit_config(target="candidate", config=memif(sock(1) + itf(1, 1, enabled="true")))
    assert ids(m, "candidate") == [("1", "1")] and ids(m) == []
    m.commit()
    assert ids(m) == [("1", "1")]
    on_disk = (ag.state_dir / "running.xml").read_text()
    assert "<enabled>true</enabled>" in on_disk
    ag.restart()
    m = ag.connect()
    assert ids(m) == [("1", "1")] and ids(m, "candidate") == [("1", "1")]


def test_edit_operations(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + itf(1, 1, ring_size="12")))
    # create on an existing node
    e = rpc_error(m.edit_config, target="running", config=memif(itf(1, 1, op="create")))
    assert (e.tag, e.type) == ("data-exists", "application")
    assert (
        e.path.strip()
        == "/memif-agent:memif/memif-agent:interface[memif-agent:socket-id='1'][memif-agent:id='1']"
    )
    # delete of something absent
    e = rpc_error(m.edit_config, target="running", config=memif(itf(1, 9, op="delete")))
    assert e.tag == "data-missing"
    # remove of something absent is fine
    m.edit_config(target="running", config=memif(itf(1, 9, op="remove")))
    # merge keeps other leaves; replace drops them
    m.edit_config(target="running", config=memif(itf(1, 1, buffer_size="4096")))
    d = data(m)
    assert xp(d, "//m:interface/m:ring-size/text()") == ["12"]
    m.edit_config(target="running", config=memif(itf(1, 1, op="replace", buffer_size="1024")))
    d = data(m)
    assert xp(d, "//m:interface/m:ring-size") == []
    assert xp(d, "//m:interface/m:buffer-size/text()") == ["1024"]
    # delete a single leaf
    m.edit_config(
        target="running",
        config=memif(
            f'<interface><socket-id>1</socket-id><id>1</id><buffer-size xmlns:nc="{NC}" '
            'nc:operation="delete"/></interface>'
        ),
    )
    assert xp(data(m), "//m:interface/m:buffer-size") == []
    # default-operation none: only nodes carrying an operation change
    m.edit_config(
        target="running",
        default_operation="none",
        config=memif(itf(1, 1, enabled="true") + itf(1, 2, op="create")),
    )
    assert ids(m) == [("1", "1"), ("1", "2")]
    assert xp(data(m), "//m:interface[m:id='1']/m:enabled") == []
    # default-operation replace: the whole datastore becomes the edit
    m.edit_config(target="running", default_operation="replace", config=memif(sock(1) + itf(1, 5)))
    assert ids(m) == [("1", "5")]
    m.edit_config(target="running", config=memif(itf(1, 5, op="delete") + sock(1, op="delete")))
    assert ids(m) == [] and xp(data(m), "//m:socket") == []


def test_invalid_commit_changes_nothing(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + itf(1, 1)))
    before = (ag.state_dir / "running.xml").read_bytes()
    e = rpc_error(m.edit_config, target="running", config=memif(itf(1, 2, role="client")))
    assert e.tag == "invalid-value" and "same role" in e.message
    assert e.path.strip().endswith("[memif:socket-id='1'][memif:id='2']/memif:role")
    m.edit_config(target="candidate", config=memif(itf(7, 1)))
    e = rpc_error(m.commit)
    assert e.tag == "data-missing" and "socket 7 does not exist" in e.message
    assert (ag.state_dir / "running.xml").read_bytes() == before
    assert ids(m) == [("1", "1")]
    # deleting a socket in use
    m.discard_changes()
    e = rpc_error(m.edit_config, target="running", config=memif(sock(1, op="delete")))
    assert e.tag == "in-use"
    assert (ag.state_dir / "running.xml").read_bytes() == before


def test_test_option_and_error_option(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1)))
    m.edit_config(target="running", test_option="test-only", config=memif(itf(1, 1)))
    assert ids(m) == []
    e = rpc_error(m.edit_config, target="running", test_option="test-only", config=memif(itf(3, 1)))
    assert e.tag == "data-missing"
    m.edit_config(target="running", config=memif(itf(1, 1)))
    # rollback-on-error: one bad create, nothing applied
    e = rpc_error(
        m.edit_config,
        target="running",
        error_option="rollback-on-error",
        config=memif(itf(1, 2, op="create") + itf(1, 1, op="create")),
    )
    assert e.tag == "data-exists" and ids(m) == [("1", "1")]
    # continue-on-error: the good create lands, the bad one is reported
    e = rpc_error(
        m.edit_config,
        target="running",
        error_option="continue-on-error",
        config=memif(itf(1, 1, op="create") + itf(1, 3, op="create")),
    )
    assert e.tag == "data-exists"
    assert ids(m) == [("1", "1"), ("1", "3")]


def test_bad_input_errors_keep_session(ag):
    m = ag.connect()
    e = rpc_error(m.edit_config, target="candidate", config=memif(itf(0, 1, speed="10")))
    assert (e.tag, e.type) == ("unknown-element", "application")
    assert "speed" in e.message
    e = rpc_error(
        m.edit_config, target="candidate", config='<config><x xmlns="urn:nope"/></config>'
    )
    assert e.tag == "unknown-namespace"
    e = rpc_error(m.edit_config, target="candidate", config=memif(itf(0, 1, ring_size="99")))
    assert e.tag == "invalid-value" and "from 8 to 32" in e.message
    e = rpc_error(m.dispatch, to_ele(f'<edit-config xmlns="{NC}"><config/></edit-config>'))
    assert (e.tag, e.type) == ("missing-element", "protocol") and "target" in e.message
    e = rpc_error(
        m.dispatch, to_ele(f'<get-config xmlns="{NC}"><source><nowhere/></source></get-config>')
    )
    # Datastores an operation's YANG input does not define are unknown elements there.
    assert (e.tag, e.path, e.info and "nowhere" in e.info) == (
        "unknown-element",
        "/nc:rpc/nc:get-config/nc:source",
        True,
    )
    e = rpc_error(m.edit_config, target="startup", config=memif(""))
    assert e.tag == "unknown-element"
    e = rpc_error(m.delete_config, target="running")
    assert e.tag == "unknown-element"
    assert ids(m) == []  # still alive


def test_startup_copy_delete_and_boot(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1) + itf(1, 1)))
    m.copy_config(source="running", target="startup")
    assert ids(m, "startup") == [("1", "1")]
    assert (ag.state_dir / "startup.xml").exists()
    m.edit_config(target="running", config=memif(itf(1, 2)))
    ag.stop()
    (ag.state_dir / "running.xml").unlink()
    ag.start()
    m = ag.connect()
    assert ids(m) == [("1", "1")]  # running came from startup
    m.delete_config(target="startup")
    assert not (ag.state_dir / "startup.xml").exists()
    e = rpc_error(m.get_config, "startup")
    assert e.tag == "invalid-value"
    # copy an inline config into the candidate, then commit it
    m.copy_config(source=f"<source>{memif(sock(2) + itf(2, 4))}</source>", target="candidate")
    m.commit()
    assert ids(m) == [("2", "4")]


def test_inline_config_is_checked_like_an_edit(ag):
    # Found by tests/fuzz/test_rpc_fuzz.py: copy-config stored foreign attributes and
    # accepted unknown namespaces into the candidate.
    m = ag.connect()
    inline = (
        f'<source><config><memif xmlns="{NS}" xmlns:x="urn:x" x:a="1">{sock(1)}</memif>'
        "</config></source>"
    )
    # An attribute no module defines would be silently dropped: refused instead.
    e = rpc_error(m.copy_config, source=inline, target="running")
    assert (e.tag, e.info and "bad-attribute" in e.info) == ("unknown-attribute", True)
    assert not (ag.state_dir / "running.xml").exists()
    e = rpc_error(
        m.copy_config, source=f"<source>{memif(sock(2), op='delete')}</source>", target="candidate"
    )
    assert (e.tag, e.info and "operation" in e.info) == ("bad-attribute", True)
    e = rpc_error(
        m.copy_config,
        source='<source><config><foo xmlns="urn:bogus"/></config></source>',
        target="candidate",
    )
    assert e.tag == "unknown-namespace"
    e = rpc_error(
        m.copy_config, source=f"<source>{memif(sock(3) + sock(3))}</source>", target="candidate"
    )
    assert e.tag == "invalid-value" and "duplicate" in e.message and "socket" in e.path
    assert xp(data(m, "candidate"), "//m:socket/m:id/text()") == []  # nothing changed


@pytest.mark.parametrize("value", ["9" * 309, "9" * 5000, "²", "٣", "0", "4294967296", ""])
def test_bad_confirm_timeout_commits_nothing(ag, value):
    m = ag.connect()
    m.edit_config(target="candidate", config=memif(sock(1)))
    req = f'<commit xmlns="{NC}"><confirmed/><confirm-timeout>{value}</confirm-timeout></commit>'
    e = rpc_error(m.dispatch, to_ele(req))
    assert (e.tag, e.path) == ("invalid-value", "/nc:rpc/nc:commit/nc:confirm-timeout")
    assert ids(m) == [] and xp(data(m), "//m:socket") == []  # running untouched
    assert not (ag.state_dir / "rollback.xml").exists()
    ag.connect().commit()  # no confirmed commit is pending for anyone


def test_locks(ag):
    a, b = ag.connect(), ag.connect()
    a.lock("running")
    e = rpc_error(b.lock, "running")
    assert e.tag == "lock-denied" and e.info and a.session_id in e.info
    e = rpc_error(b.edit_config, target="running", config=memif(sock(1)))
    assert e.tag == "in-use"
    a.edit_config(target="running", config=memif(sock(1)))
    e = rpc_error(b.unlock, "running")
    assert e.tag == "lock-denied"
    a.close_session()
    deadline = time.time() + 5
    while True:  # the lock dies with its session
        try:
            b.lock("running")
            break
        except RPCError:
            assert time.time() < deadline
            time.sleep(0.05)
    b.unlock("running")
    e = rpc_error(b.unlock, "running")
    assert e.tag == "operation-failed"


def test_candidate_lock_refused_while_dirty(ag):
    a, b = ag.connect(), ag.connect()
    a.edit_config(target="candidate", config=memif(sock(1)))
    e = rpc_error(b.lock, "candidate")
    assert e.tag == "lock-denied" and "uncommitted" in e.message
    # RFC 6241 §7.5 makes no exception for the session's own changes.
    e = rpc_error(a.lock, "candidate")
    assert e.tag == "lock-denied" and "uncommitted" in e.message
    assert e.info and f">{a.session_id}<" in e.info  # the author, not 0
    a.discard_changes()
    b.lock("candidate")
    b.edit_config(target="candidate", config=memif(sock(2)))
    e = rpc_error(a.discard_changes)
    assert e.tag == "in-use"
    b.close_session()  # a lock holder's uncommitted changes die with it
    deadline = time.monotonic() + 5
    while xp(data(a, "candidate"), "//m:socket") != []:
        assert time.monotonic() < deadline, "the closed lock holder's changes outlived it"
        time.sleep(0.02)


def test_validate(ag):
    m = ag.connect()
    m.validate(source="candidate")
    m.edit_config(target="candidate", config=memif(itf(5, 1)))
    e = rpc_error(m.validate, source="candidate")
    assert e.tag == "data-missing"
    m.validate(source=to_ele(memif(sock(5) + itf(5, 1))))
    e = rpc_error(m.validate, source=to_ele(memif(sock(0))))
    assert "built in" in e.message


def test_confirmed_commit_times_out_and_rolls_back(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1)))
    m.edit_config(target="candidate", config=memif(itf(1, 1)))
    m.commit(confirmed=True, timeout="1")
    assert ids(m) == [("1", "1")]
    assert (ag.state_dir / "rollback.xml").exists()
    wait_until(lambda: ids(m) == [], timeout=10, what="the confirmed commit rolled back")
    assert xp(data(m), "//m:socket/m:id/text()") == ["1"]
    assert not (ag.state_dir / "rollback.xml").exists()


def test_confirmed_commit_confirm_cancel_and_session_loss(ag):
    m = ag.connect()
    m.edit_config(target="candidate", config=memif(sock(1)))
    m.commit(confirmed=True, timeout="30")
    other = ag.connect()
    e = rpc_error(other.commit)
    assert e.tag == "in-use"
    m.commit()  # confirming commit
    assert xp(data(m), "//m:socket/m:id/text()") == ["1"]
    # cancel-commit
    m.edit_config(target="candidate", config=memif(sock(2)))
    m.commit(confirmed=True, timeout="30")
    m.cancel_commit()
    assert xp(data(m), "//m:socket/m:id/text()") == ["1"]
    # session loss rolls back a non-persistent confirmed commit
    m.edit_config(target="candidate", config=memif(sock(3)))
    m.commit(confirmed=True, timeout="30")
    m.close_session()
    wait_until(
        lambda: xp(data(other), "//m:socket/m:id/text()") == ["1"],
        what="rolled back on session loss",
    )
    e = rpc_error(other.cancel_commit)
    assert e.tag == "invalid-value"


def test_persistent_confirmed_commit_from_another_session(ag):
    m = ag.connect()
    m.edit_config(target="candidate", config=memif(sock(4)))
    m.commit(confirmed=True, timeout="30", persist="tok-1")
    sid = m.session_id
    m.close_session()
    ag.wait_log(f"session {sid} ended")
    other = ag.connect()
    assert xp(data(other), "//m:socket/m:id/text()") == ["4"]  # survives its session
    e = rpc_error(other.commit, persist_id="wrong")
    assert e.tag == "invalid-value"
    other.commit(persist_id="tok-1")
    assert xp(data(other), "//m:socket/m:id/text()") == ["4"]


def test_unconfirmed_commit_rolls_back_after_restart(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1)))
    m.edit_config(target="candidate", config=memif(sock(2)))
    m.commit(confirmed=True, timeout="60", persist="p")
    ag.kill()
    ag.start()
    m = ag.connect()
    assert xp(data(m), "//m:socket/m:id/text()") == ["1"]


def test_filters_and_with_defaults(ag):
    m = ag.connect()
    m.edit_config(
        target="running",
        config=memif(sock(1) + sock(2) + itf(1, 1, ring_size="10") + itf(2, 7, role="client")),
    )
    # subtree: content match on a key selects one entry, whole
    f = f'<memif xmlns="{NS}"><interface><socket-id>2</socket-id></interface></memif>'
    d = data(m, filter=("subtree", f))
    assert xp(d, "//m:interface/m:id/text()") == ["7"] and xp(d, "//m:socket") == []
    # subtree: selection node inside a list keeps the keys
    f = f'<memif xmlns="{NS}"><interface><role/></interface></memif>'
    d = data(m, filter=("subtree", f))
    assert xp(d, "//m:interface/m:role/text()") == ["client"]
    assert xp(d, "//m:interface/m:socket-id/text()") == ["2"]
    # xpath filter
    d = data(m, filter=("xpath", ({"x": NS}, "/x:memif/x:socket[x:id='2']/x:filename")))
    assert xp(d, "//m:socket/m:id/text()") == ["2"] and xp(d, "//m:interface") == []
    e = rpc_error(m.get_config, "running", filter=("xpath", "/x:memif["))
    assert e.tag == "invalid-value"
    # with-defaults
    d = data(m, with_defaults="report-all")
    assert xp(d, "//m:interface[m:id='1']/m:buffer-size/text()") == ["2048"]
    assert xp(d, "//m:interface[m:id='7']/m:rx-queues/text()") == ["1"]
    assert xp(d, "//m:interface[m:id='1']/m:rx-queues") == []  # server: no queue leaves
    d = data(m, with_defaults="trim")
    assert xp(d, "//m:interface[m:id='1']/m:ring-size") == []
    d = data(m)  # explicit: as set
    assert xp(d, "//m:interface[m:id='1']/m:ring-size/text()") == ["10"]
    reply = m.get_config("running", with_defaults="report-all-tagged")
    d = reply.data
    tagged = xp(d, "//m:interface[m:id='1']/m:mode")[0]
    assert tagged.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"
    # the tag's namespace is declared once, on <data>, as RFC 6243's wd prefix
    assert reply.xml.count("urn:ietf:params:xml:ns:netconf:default:1.0") == 1
    assert re.search('<data [^>]*xmlns:wd="urn:ietf:params:xml:ns:netconf:default:1.0"', reply.xml)


def test_report_all_shows_containers_never_created(ag):
    m = ag.connect()
    nacm_ns = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
    n = {"n": nacm_ns}
    # No /nacm was ever configured: explicit shows none, report-all its defaults.
    assert m.get_config("running").data.find(f"{{{nacm_ns}}}nacm") is None
    d = data(m, with_defaults="report-all")
    assert d.xpath("//n:nacm/n:enable-nacm/text()", namespaces=n) == ["true"]
    assert d.xpath("//n:nacm/n:write-default/text()", namespaces=n) == ["deny"]
    # ... and a filter can select them (defaults go in before filtering)
    f = f'<nacm xmlns="{nacm_ns}"><read-default/></nacm>'
    d = data(m, filter=("subtree", f), with_defaults="report-all")
    assert d.xpath("//n:nacm/*", namespaces=n)[0].text == "permit"
    assert len(d.xpath("//n:nacm/*", namespaces=n)) == 1
    d = data(m, filter=("subtree", f), with_defaults="report-all-tagged")
    leaf = d.xpath("//n:nacm/n:read-default", namespaces=n)[0]
    assert leaf.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"
    # a container with nothing to default (memif, no entries) does not appear
    assert xp(data(m, with_defaults="report-all"), "//m:memif") == []


def test_get_merges_state(ag):
    m = ag.connect()
    m.edit_config(target="running", config=memif(sock(1)))
    d = m.get().data
    assert xp(d, "//m:socket/m:id/text()") == ["1"]
    ns_mon = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
    assert d.find(f"{{{ns_mon}}}netconf-state") is not None
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data
    assert d.find(f"{{{ns_mon}}}netconf-state") is None
