"""Monitoring, YANG library, get-schema, notifications and session hooks, end to end."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import asyncssh
import libyang
import pytest
from agent_harness import Raw, arun, chunk, rpc
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

from agent.app import build_server
from agent.errors import NC_NS
from agent.ssh import transport
from agent.yangdata.schema import YANG_DIR, shared_context

KILL_BAD = b"<kill-session><session-id>4000000</session-id></kill-session>"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"


@pytest.fixture
def core(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


# -- get-schema -------------------------------------------------------------------------


def test_get_schema_returns_our_module_text(core):
    m = core.connect()
    reply = m.get_schema("memif-agent")
    assert reply.data == (YANG_DIR / "memif-agent.yang").read_text()
    assert "module ietf-netconf " in m.get_schema("ietf-netconf", "2011-06-01").data
    assert "module ietf-inet-types" in m.get_schema("ietf-inet-types").data  # import-only


def test_get_schema_yin_and_errors(core):
    m = core.connect()
    yin = m.get_schema("memif-agent", format="yin").data
    assert yin.lstrip().startswith("<?xml") or "<module" in yin
    with pytest.raises(RPCError) as ei:
        m.get_schema("no-such-module")
    assert (ei.value.tag, ei.value.type) == ("invalid-value", "application")
    assert ei.value.path == "/nc:rpc/ncm:get-schema/ncm:identifier"
    with pytest.raises(RPCError) as ei:
        m.get_schema("memif-agent", version="1999-01-01")
    assert ei.value.tag == "invalid-value"
    with pytest.raises(RPCError) as ei:
        m.get_schema("memif-agent", format="xsd")
    assert ei.value.tag == "invalid-value"
    with pytest.raises(RPCError) as ei:
        m.dispatch(to_ele(f'<get-schema xmlns="{NCM}"/>'))
    assert ei.value.tag == "missing-element"
    assert m.connected


# -- monitoring state (in process; <get> itself belongs to the datastore module) ---------


def _server_with_sessions():
    srv = build_server(
        SimpleNamespace(max_message_size=0, users=None),
        modules=("agent.rpc.session_ops", "agent.rpc.monitoring", "agent.rpc.notifications"),
    )
    s = srv.new_session("alice", "192.0.2.7")
    s.receive(
        b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
        b"<capability>urn:ietf:params:netconf:base:1.1</capability>"
        b"</capabilities></hello>]]>]]>"
    )
    return srv, s


def test_monitoring_state_is_valid_yang_data():
    srv, s = _server_with_sessions()
    for action in s.receive(chunk(rpc(b"<nope/>", 1)) + chunk(rpc(KILL_BAD, 2))):
        srv.dispatch(s, action)
    state = srv.monitoring.state()
    xml = "".join(etree.tostring(e, encoding="unicode") for e in state)
    ctx = shared_context()
    # libyang checks every node, type and key against the models.
    data = ctx.parse_data_mem(xml, "xml", parse_only=True, strict=True)
    assert data is not None
    data.free()
    ns = {"m": NCM}
    root = state[0]
    sess = root.find("m:sessions/m:session", ns)
    assert sess.findtext("m:username", namespaces=ns) == "alice"
    assert sess.findtext("m:source-host", namespaces=ns) == "192.0.2.7"
    assert sess.findtext("m:in-bad-rpcs", namespaces=ns) == "1"
    assert sess.findtext("m:out-rpc-errors", namespaces=ns) == "2"
    ids = [e.text for e in root.iterfind("m:schemas/m:schema/m:identifier", ns)]
    assert "memif-agent" in ids and "ietf-netconf-monitoring" in ids
    caps = [e.text for e in root.iterfind("m:capabilities/m:capability", ns)]
    assert "urn:ietf:params:netconf:capability:notification:1.0" in caps
    assert root.findtext("m:statistics/m:in-sessions", namespaces=ns) == "1"


def test_yang_library_state_lists_modules_without_file_paths():
    srv, _ = _server_with_sessions()
    lib = srv.monitoring.yang_library()
    xml = "".join(etree.tostring(e, encoding="unicode") for e in lib)
    assert "file://" not in xml
    yl = {"y": "urn:ietf:params:xml:ns:yang:ietf-yang-library"}
    names = etree.fromstring(f"<x>{xml}</x>").xpath("//y:module/y:name/text()", namespaces=yl)
    assert "memif-agent" in names
    assert f"<content-id>{srv.content_id()}</content-id>" in xml
    assert f"content-id={srv.content_id()}" in " ".join(srv.capabilities())
    # a fresh copy each time: callers may merge into it
    assert lib[0] is not srv.monitoring.yang_library()[0]
    assert isinstance(shared_context(), libyang.Context)


# -- notifications ----------------------------------------------------------------------


def test_session_events_reach_subscriber(core):
    m = core.connect()
    m.create_subscription()
    other = core.connect()
    sid = other.session_id
    r = m.dispatch(
        to_ele(f'<kill-session xmlns="{NC_NS}"><session-id>{sid}</session-id></kill-session>')
    )
    assert r.ok
    events = [
        etree.fromstring(m.take_notification(timeout=5).notification_xml.encode()) for _ in range(2)
    ]
    start, end = (e[1] for e in events)
    assert start.tag == f"{{{NCN}}}netconf-session-start"
    assert start.findtext(f"{{{NCN}}}session-id") == sid
    assert end.tag == f"{{{NCN}}}netconf-session-end"
    assert end.findtext(f"{{{NCN}}}termination-reason") == "killed"
    assert end.findtext(f"{{{NCN}}}killed-by") == m.session_id
    assert events[0].findtext(f"{{{NOTIF}}}eventTime").endswith("Z")


def test_subscription_filters_and_errors(core):
    m = core.connect()
    # subtree filter that matches only session-end events
    filt = to_ele(f'<filter type="subtree"><netconf-session-end xmlns="{NCN}"/></filter>')
    m.create_subscription(filter=filt)
    with pytest.raises(RPCError) as ei:
        m.create_subscription()
    assert ei.value.tag == "in-use"
    core.connect().close_session()
    ev = etree.fromstring(m.take_notification(timeout=5).notification_xml.encode())
    assert ev[1].tag == f"{{{NCN}}}netconf-session-end"
    assert ev[1].findtext(f"{{{NCN}}}termination-reason") == "closed"
    assert m.take_notification(timeout=0.3) is None

    x = core.connect()
    with pytest.raises(RPCError) as ei:
        x.create_subscription(stream_name="OTHER")
    assert ei.value.tag == "invalid-value"
    with pytest.raises(RPCError) as ei:
        x.create_subscription(start_time="2026-01-01T00:00:00Z")
    assert ei.value.tag == "operation-failed"
    with pytest.raises(RPCError) as ei:
        x.dispatch(
            to_ele(
                f'<create-subscription xmlns="{NOTIF}">'
                "<stopTime>2026-01-01T00:00:00Z</stopTime></create-subscription>"
            )
        )
    assert (ei.value.tag, ei.value.type) == ("missing-element", "protocol")
    with pytest.raises(RPCError) as ei:
        x.create_subscription(filter=("xpath", "/undeclared:thing"))
    assert ei.value.tag == "invalid-value"
    # xpath filter with content match on username (module prefix resolved by the agent)
    x.create_subscription(filter=("xpath", "/ncn:netconf-session-start[ncn:username='admin']"))
    core.connect()
    ev = etree.fromstring(x.take_notification(timeout=5).notification_xml.encode())
    assert ev[1].tag == f"{{{NCN}}}netconf-session-start"


def test_subscription_ends_with_session(core):
    m = core.connect()
    m.create_subscription()
    m.close_session()
    # a later event must not try to reach the dead session
    core.connect().close_session()
    assert "notification to session" not in core.log()


# -- ordering with asynchronous handlers, session-end hooks (in process) ----------------


def test_async_handlers_keep_reply_order_and_kill_releases(tmp_path):
    key = tmp_path / "hostkey"
    key.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    users = tmp_path / "users"
    from agent.ssh.users import write_default_users

    write_default_users(users)
    opts = SimpleNamespace(
        address="127.0.0.1",
        port=0,
        users=users,
        max_message_size=0,
        max_sessions=0,
        idle_timeout=0,
        hello_timeout=0,
        login_timeout=10,
    )
    srv = build_server(opts, modules=("agent.rpc.session_ops",))
    released = []
    srv.add_session_end_hook(released.append)

    async def slow(ctx, op):
        await asyncio.sleep(0.05)
        return etree.Element("{urn:t}slow")

    srv.register_rpc("urn:t", "slow", slow)
    srv.register_rpc("urn:t", "fast", lambda ctx, op: etree.Element("{urn:t}fast"))

    async def go():
        acceptor = await transport.start(srv, key)
        port = acceptor.sockets[0].getsockname()[1]
        try:
            a = await Raw.open(port)
            names = ["slow", "fast", "fast", "slow", "fast"]
            a.writer.write(
                b"".join(
                    chunk(rpc(b'<%s xmlns="urn:t"/>' % n.encode(), i)) for i, n in enumerate(names)
                )
            )
            got = []
            for _ in names:
                r = etree.fromstring(await a.read())
                got.append((r.get("message-id"), etree.QName(r[0]).localname))
            assert got == [(str(i), n) for i, n in enumerate(names)]
            b = await Raw.open(port)
            t = time.monotonic()
            r = await a.call(
                f"<kill-session><session-id>{b.session_id}</session-id></kill-session>".encode(), 99
            )
            assert r.find(f"{{{NC_NS}}}ok") is not None
            # the victim's end hook (lock release) ran before the <ok/>
            assert int(b.session_id) in released
            assert await b.closed()
            assert time.monotonic() - t < 5
            a.close()
        finally:
            acceptor.close()
            await srv.shutdown()

    arun(go())
