"""The two state machines of agent/, each driven through its own methods only:
a NETCONF session (bytes in, sans-I/O) and a confirmed commit."""

from __future__ import annotations

import asyncio

import pytest
from lxml import etree

from agent.datastore.confirmed import ConfirmedCommit, ConfirmState
from agent.errors import RpcError
from agent.netconf.session import BASE10, BASE11, CLOSE, EndReason, Session, SessionState

HELLO11 = (
    b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    b"<capability>urn:ietf:params:netconf:base:1.1</capability>"
    b"</capabilities></hello>]]>]]>"
)


def session() -> Session:
    return Session(7, "alice", [BASE10, BASE11])


def test_session_hello_open_closing_closed():
    s = session()
    assert s.state is SessionState.HELLO and s.end_reason is EndReason.DROPPED
    assert not s.is_open
    assert s.receive(HELLO11) == []
    assert s.state is SessionState.OPEN and s.is_open and not s.closing
    s.close_after_reply()
    assert s.state is SessionState.CLOSING and s.closing and s.is_open
    s.ending(EndReason.CLOSED)
    s.ended()
    assert s.state is SessionState.CLOSED and s.end_reason is EndReason.CLOSED
    assert s.receive(b"<anything/>]]>]]>") == []  # nothing is read once closed
    s.close_after_reply()  # no way back from closed
    assert s.state is SessionState.CLOSED


def test_session_bad_hello_and_framing_error_end_it_with_their_reason():
    s = session()
    out = s.receive(b"<rpc/>]]>]]>")
    assert len(out) == 1 and isinstance(out[0], CLOSE)
    assert s.state is SessionState.CLOSED and s.end_reason is EndReason.BAD_HELLO
    assert s.bad_hello

    s = session()
    s.receive(HELLO11)
    out = s.receive(b"\n#x\n")  # not a chunk header
    assert len(out) == 1 and isinstance(out[0], CLOSE)
    assert s.state is SessionState.CLOSED and s.end_reason is EndReason.OTHER


def test_session_killed_names_who():
    s = session()
    s.receive(HELLO11)
    s.killed(3)
    assert s.end_reason is EndReason.KILLED and s.killed_by == 3
    # RFC 6470 termination-reason text is the enum's value
    assert str(s.end_reason) == "killed"
    with pytest.raises(AttributeError):
        s.state = SessionState.OPEN  # type: ignore[misc]


def _tree(text: str) -> etree._Element:
    return etree.fromstring(f"<config><v>{text}</v></config>")


def test_confirmed_commit_states(tmp_path):
    expired = []
    cc = ConfirmedCommit(
        tmp_path / "rollback.xml", etree.tostring, lambda: expired.append(True)
    )
    old, new = _tree("old"), _tree("new")

    async def run() -> None:
        assert cc.state is ConfirmState.NONE
        cc.check_commit(1, None)
        cc.save_backup(old)
        assert (tmp_path / "rollback.xml").read_bytes() == etree.tostring(old)
        assert cc.committed(cc.backup_for(old), 1, True, 600, None) == "start"
        assert cc.state is ConfirmState.PENDING and cc.ends_with(1) and not cc.ends_with(2)
        assert cc.lock_holder(2) == 1 and cc.lock_holder(1) is None
        with pytest.raises(RpcError) as e:
            cc.refuse_other(2, "commit")
        assert e.value.tag == "in-use" and e.value.info == [("session-id", "1")]
        # extend, then confirm: the backup stays the configuration before the first
        assert cc.backup_for(new) is old
        assert cc.committed(cc.backup_for(new), 1, True, 600, None) == "extend"
        assert cc.committed(cc.backup_for(new), 1, False, 600, None) == "complete"
        assert cc.state is ConfirmState.NONE
        cc.drop_backup()  # the caller's part, off the event loop
        assert not (tmp_path / "rollback.xml").exists()

        # persistent: any session with the persist-id, and only with it
        cc.save_backup(old)
        assert cc.committed(old, 1, True, 600, "tok") == "start"
        assert cc.state is ConfirmState.PERSISTENT and not cc.ends_with(1)
        with pytest.raises(RpcError) as e:
            cc.check_commit(2, "wrong")
        assert e.value.path == "/nc:rpc/nc:commit/nc:persist-id"
        cc.check_commit(2, "tok")
        assert cc.check_cancel(2, "tok").backup is old
        taken = cc.take()
        assert taken is not None and taken.backup is old and cc.state is ConfirmState.NONE
        assert cc.take() is None
        with pytest.raises(RpcError):
            cc.check_cancel(1, None)

        # the timer
        assert cc.committed(old, 1, True, 0, None) == "start"
        for _ in range(100):
            if expired:
                break
            await asyncio.sleep(0.01)
        assert expired == [True]

    asyncio.run(run())
