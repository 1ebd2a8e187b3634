"""Session basics over real SSH with ncclient: hello, capabilities, close/kill-session."""

from __future__ import annotations

import pytest
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


@pytest.fixture
def core_agent(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


def test_hello_advertises_bases_and_modules(core_agent):
    m = core_agent.connect()
    caps = list(m.server_capabilities)
    assert "urn:ietf:params:netconf:base:1.0" in caps
    assert "urn:ietf:params:netconf:base:1.1" in caps
    memif = [c for c in caps if "module=memif-agent" in c]
    assert memif and "revision=2026-11-25" in memif[0]
    assert any(c.startswith("urn:ietf:params:netconf:capability:yang-library:1.1?") for c in caps)
    assert int(m.session_id) >= 1


def test_close_session_ends_channel(core_agent):
    m = core_agent.connect()
    sid = m.session_id
    m.close_session()
    assert not m.connected
    core_agent.wait_log(f"closing session {sid}: close-session")


def test_kill_session_other(core_agent):
    a = core_agent.connect()
    b = core_agent.connect()
    r = a.dispatch(
        to_ele(f'<kill-session xmlns="{NC}"><session-id>{b.session_id}</session-id></kill-session>')
    )
    assert r.ok
    # the victim's transport is closed by the agent
    import time

    deadline = time.monotonic() + 5
    while b.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not b.connected
    # a keeps working; an unknown session is invalid-value
    with pytest.raises(RPCError) as ei:
        a.dispatch(
            to_ele(f'<kill-session xmlns="{NC}"><session-id>99999</session-id></kill-session>')
        )
    assert ei.value.tag == "invalid-value"


def test_kill_session_self_is_invalid_value(core_agent):
    a = core_agent.connect()
    with pytest.raises(RPCError) as ei:
        a.dispatch(
            to_ele(
                f'<kill-session xmlns="{NC}"><session-id>{a.session_id}</session-id></kill-session>'
            )
        )
    assert ei.value.tag == "invalid-value"
    assert ei.value.type == "protocol"
    assert a.connected


def test_agent_fixture_contract(agent):
    # The shared fixture: free port, tmp state dir, socket0 under tmp, ncclient connect.
    assert agent.port > 0 and agent.running
    assert agent.state_dir.is_dir() and agent.socket0.startswith(str(agent.workdir))
    assert f"--socket0 {agent.socket0}" in " ".join(agent.command())
    m = agent.connect()
    assert m.connected
    assert f"listening on 127.0.0.1:{agent.port}" in agent.log()
    agent.restart()
    assert agent.connect().connected
    agent.kill()
    assert not agent.running
