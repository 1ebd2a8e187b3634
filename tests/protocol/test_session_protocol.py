"""The sans-I/O session and server dispatch, driven with byte vectors (no sockets)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from lxml import etree

from agent.errors import NC_NS, RpcError, RpcErrors
from agent.netconf.framing import Framer
from agent.netconf.session import BASE10, BASE11, CLOSE, Request
from agent.server import Server

HELLO11 = (
    b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    b"<capability>urn:ietf:params:netconf:base:1.0</capability>"
    b"<capability>urn:ietf:params:netconf:base:1.1</capability>"
    b"</capabilities></hello>]]>]]>"
)
HELLO10 = HELLO11.replace(b"<capability>urn:ietf:params:netconf:base:1.1</capability>", b"")


def chunk(msg: bytes) -> bytes:
    return b"\n#%d\n%s\n##\n" % (len(msg), msg)


def rpc(body: bytes, mid: str = "1", extra: bytes = b"") -> bytes:
    return b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s"%s>%s</rpc>' % (
        mid.encode(),
        extra,
        body,
    )


@pytest.fixture(scope="module")
def server():
    srv = Server(SimpleNamespace(max_message_size=1 << 20))
    srv.register_rpc("urn:test", "echo", lambda ctx, op: etree.Element("{urn:test}out"))
    srv.register_rpc("urn:test", "none", lambda ctx, op: None)
    srv.register_rpc("urn:test", "raw", lambda ctx, op: b"<raw xmlns='urn:test'/>")

    def fail(ctx, op):
        raise RpcError("invalid-value", "bad thing", path="/nc:rpc/t:fail")

    def fail_many(ctx, op):
        raise RpcErrors([RpcError("data-missing", "one"), RpcError("data-exists", "two")])

    def crash(ctx, op):
        raise KeyError("boom")

    async def slow(ctx, op):
        await asyncio.sleep(0)
        return etree.Element("{urn:test}slow")

    def ctx_echo(ctx, op):
        el = etree.Element("{urn:test}ctx")
        el.text = f"{ctx.session_id}/{ctx.username}/{ctx.message_id}"
        return el

    for name, fn in [
        ("fail", fail),
        ("fail-many", fail_many),
        ("crash", crash),
        ("slow", slow),
        ("ctx", ctx_echo),
    ]:
        srv.register_rpc("urn:test", name, fn)
    return srv


def open_session(server, hello=HELLO11):
    s = server.new_session("alice", "192.0.2.1")
    assert s.receive(hello) == []
    assert s.state == "open"
    return s


def replies(data: bytes, chunked: bool = True) -> list[etree._Element]:
    f = Framer()
    if chunked:
        f.set_chunked()
    return [etree.fromstring(m) for m in f.messages(data)]


def run(server, session, data: bytes) -> list:
    """Feed bytes; dispatch requests like the transport does; return actions as replies."""
    out = []
    for action in session.receive(data):
        if isinstance(action, Request):
            r = server.dispatch(session, action)
            if not isinstance(r, bytes):
                r = asyncio.run(r)
            out.append(r)
        else:
            out.append(action)
    return out


def err(reply: etree._Element) -> dict:
    e = reply.find(f"{{{NC_NS}}}rpc-error")
    assert e is not None, etree.tostring(reply)
    info = e.find(f"{{{NC_NS}}}error-info")
    return {
        "type": e.findtext(f"{{{NC_NS}}}error-type"),
        "tag": e.findtext(f"{{{NC_NS}}}error-tag"),
        "path": e.findtext(f"{{{NC_NS}}}error-path"),
        "message": e.findtext(f"{{{NC_NS}}}error-message"),
        "info": {etree.QName(c).localname: c.text for c in info} if info is not None else {},
    }


# -- hello ------------------------------------------------------------------------------


def test_server_hello(server):
    s = server.new_session("alice")
    data = s.hello()
    assert data.endswith(b"]]>]]>")
    root = etree.fromstring(data[:-6])
    caps = [c.text for c in root.iter(f"{{{NC_NS}}}capability")]
    assert BASE10 in caps and BASE11 in caps
    assert root.findtext(f"{{{NC_NS}}}session-id") == str(s.session_id)


def test_hello_11_selects_chunked_and_10_keeps_eom(server):
    assert open_session(server, HELLO11).framer.chunked
    assert not open_session(server, HELLO10).framer.chunked


def test_rpc_in_same_read_as_hello_uses_new_framing(server):
    s = server.new_session("alice")
    (reply,) = run(server, s, HELLO11 + chunk(rpc(b'<echo xmlns="urn:test"/>')))
    (root,) = replies(reply)
    assert root.find("{urn:test}out") is not None


@pytest.mark.parametrize(
    "hello",
    [
        b"<hello xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'><capabilities>"
        b"<capability>urn:x</capability></capabilities></hello>]]>]]>",
        HELLO11.replace(b"</hello>", b"<session-id>4</session-id></hello>"),
        rpc(b"<get/>") + b"]]>]]>",
        b"<hello xmlns='urn:ietf:params:xml:ns:netconf:base:1.0'><capabilities>]]>]]>",
        b"<hello xmlns='urn:wrong'/>]]>]]>",
    ],
)
def test_bad_hello_closes(server, hello):
    s = server.new_session("alice")
    (action,) = s.receive(hello)
    assert isinstance(action, CLOSE)
    assert s.bad_hello and s.state == "closed"
    assert s.receive(rpc(b"<get/>") + b"]]>]]>") == []


# -- envelope ---------------------------------------------------------------------------


def test_reply_keeps_message_id_and_all_attributes(server):
    s = open_session(server)
    extra = b' xmlns:ex="urn:ex" ex:user-id="fred" trace="a&amp;b&quot;"'
    (out,) = run(server, s, chunk(rpc(b'<none xmlns="urn:test"/>', "m-7", extra)))
    (root,) = replies(out)
    assert root.tag == f"{{{NC_NS}}}rpc-reply"
    assert root.get("message-id") == "m-7"
    assert root.get("{urn:ex}user-id") == "fred"
    assert root.get("trace") == 'a&b"'
    assert root.find(f"{{{NC_NS}}}ok") is not None


def test_missing_message_id(server):
    s = open_session(server)
    msg = b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><none xmlns="urn:test"/></rpc>'
    (out,) = run(server, s, chunk(msg))
    (root,) = replies(out)
    e = err(root)
    assert (e["type"], e["tag"]) == ("rpc", "missing-attribute")
    assert e["info"] == {"bad-attribute": "message-id", "bad-element": "rpc"}
    assert s.state == "open" and s.in_bad_rpcs == 1


def test_rpc_in_wrong_namespace(server):
    s = open_session(server)
    (out,) = run(server, s, chunk(b'<rpc xmlns="urn:wrong" message-id="5"><get/></rpc>'))
    (root,) = replies(out)
    assert root.get("message-id") == "5"
    e = err(root)
    assert (e["type"], e["tag"]) == ("protocol", "unknown-namespace")
    assert e["info"] == {"bad-element": "rpc", "bad-namespace": "urn:wrong"}


def test_not_an_rpc(server):
    s = open_session(server)
    (out,) = run(server, s, chunk(b'<get xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>'))
    e = err(replies(out)[0])
    assert (e["type"], e["tag"], e["info"]) == (
        "protocol",
        "unknown-element",
        {"bad-element": "get"},
    )


def test_rpc_without_operation_and_with_two(server):
    s = open_session(server)
    out = run(server, s, chunk(rpc(b"")) + chunk(rpc(b'<none xmlns="urn:test"/><get/>', "2")))
    a, b = (err(r) for r in replies(b"".join(out)))
    assert (a["tag"], a["type"]) == ("missing-element", "protocol")
    assert (b["tag"], b["info"]) == ("unknown-element", {"bad-element": "get"})


@pytest.mark.parametrize(
    "payload",
    [
        rpc(b"<get>"),  # not well-formed
        rpc(b"<get/>").replace(b"<get/>", b"<g\xff\xfe/>"),  # invalid UTF-8
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;&lol;">]>' + rpc(b"<get>&lol2;</get>"),  # entity expansion
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>' + rpc(b"<get>&x;</get>"),
        rpc(b"<a>" * 300 + b"</a>" * 300),  # deeper than libxml2's limit
        b"",
    ],
)
def test_malformed_message_keeps_session(server, payload):
    s = open_session(server, HELLO10)
    out = run(server, s, payload + b"]]>]]>" + rpc(b'<none xmlns="urn:test"/>', "2") + b"]]>]]>")
    r1, r2 = replies(b"".join(out), chunked=False)
    e = err(r1)
    # RFC 6241 App. A: malformed-message MUST NOT be sent to a base:1.0 session.
    assert (e["type"], e["tag"]) == ("rpc", "operation-failed")
    assert r2.get("message-id") == "2" and r2.find(f"{{{NC_NS}}}ok") is not None
    assert s.state == "open"


def test_too_deep_message_says_so(server):
    s = open_session(server, HELLO10)
    (out,) = run(server, s, rpc(b"<a>" * 300 + b"</a>" * 300, "d") + b"]]>]]>")
    (root,) = replies(out, chunked=False)
    e = err(root)
    assert e["tag"] == "operation-failed" and "deeper than 256" in e["message"]
    assert root.get("message-id") == "d" and s.state == "open"


def test_malformed_message_reply_recovers_message_id(server):
    s = open_session(server, HELLO10)
    (out,) = run(server, s, rpc(b"<get>", "abc") + b"]]>]]>")
    (root,) = replies(out, chunked=False)
    assert root.get("message-id") == "abc"


@pytest.mark.parametrize(
    "mid, echoed",
    [
        (b"a&amp;b", "a&b"),  # decoded as XML reads it, not escaped twice
        (b"&#x3c;&lt;", "<<"),
        (b"a\x06b", None),  # a control character XML refuses: left out
        (b"a&nosuch;b", None),
    ],
)
def test_malformed_message_reply_is_well_formed(server, mid, echoed):
    s = open_session(server, HELLO10)
    msg = b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s"><get>' % mid
    (out,) = run(server, s, msg + b"]]>]]>")
    (root,) = replies(out, chunked=False)  # parses: the reply is well-formed XML
    assert root.get("message-id") == echoed
    assert err(root)["tag"] == "operation-failed"  # base:1.0: no malformed-message


def test_reply_keeps_xml_lang(server):
    # The xml prefix is XML's own: echoed as xml:lang, never rebound (found by fuzzing).
    s = open_session(server)
    (out,) = run(server, s, chunk(rpc(b'<none xmlns="urn:test"/>', "1", b' xml:lang="en"')))
    assert b' xml:lang="en"' in out and b"XML/1998/namespace" not in out
    (root,) = replies(out)
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"


def test_entities_never_expanded(server):
    s = open_session(server, HELLO10)
    (out,) = run(
        server,
        s,
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + rpc(b"<get>&x;</get>")
        + b"]]>]]>",
    )
    assert b"root:" not in out


def test_framing_error_after_good_rpc_closes(server):
    s = open_session(server)
    actions = s.receive(chunk(rpc(b'<none xmlns="urn:test"/>')) + b"\n#x\n")
    assert isinstance(actions[0], Request)
    assert isinstance(actions[1], CLOSE)
    assert "framing" in actions[1].reason


# -- dispatch ---------------------------------------------------------------------------


def test_unknown_operation_in_unknown_namespace(server):
    s = open_session(server)
    (out,) = run(server, s, chunk(rpc(b'<frob xmlns="urn:nobody"/>')))
    e = err(replies(out)[0])
    assert (e["type"], e["tag"]) == ("protocol", "unknown-namespace")
    assert e["info"] == {"bad-element": "frob", "bad-namespace": "urn:nobody"}


def test_unknown_operation_in_known_namespace(server):
    s = open_session(server)
    (out,) = run(server, s, chunk(rpc(b"<frobnicate/>")))
    e = err(replies(out)[0])
    assert (e["type"], e["tag"]) == ("protocol", "operation-not-supported")
    assert e["info"] == {"bad-element": "frobnicate"}


def test_handler_results(server):
    s = open_session(server)
    data = b"".join(
        chunk(rpc(b'<%s xmlns="urn:test"/>' % n, str(i)))
        for i, n in enumerate([b"echo", b"raw", b"slow", b"ctx"])
    )
    out = replies(b"".join(run(server, s, data)))
    assert [r.get("message-id") for r in out] == ["0", "1", "2", "3"]
    assert out[0].find("{urn:test}out") is not None
    assert out[1].find("{urn:test}raw") is not None
    assert out[2].find("{urn:test}slow") is not None
    assert out[3].findtext("{urn:test}ctx") == f"{s.session_id}/alice/3"


def test_handler_errors(server):
    s = open_session(server)
    data = b"".join(
        chunk(rpc(b'<%s xmlns="urn:test"/>' % n, str(i)))
        for i, n in enumerate([b"fail", b"fail-many", b"crash"])
    )
    r_fail, r_many, r_crash = replies(b"".join(run(server, s, data)))
    e = err(r_fail)
    assert (e["tag"], e["type"], e["path"], e["message"]) == (
        "invalid-value",
        "application",
        "/nc:rpc/t:fail",
        "bad thing",
    )
    assert [x.findtext(f"{{{NC_NS}}}error-tag") for x in r_many] == ["data-missing", "data-exists"]
    e = err(r_crash)
    assert e["tag"] == "operation-failed" and "KeyError" in e["message"]
    assert s.out_rpc_errors == 3 and s.state == "open"


def test_error_path_prefix_is_declared(server):
    s = open_session(server)
    (out,) = run(server, s, chunk(rpc(b'<fail xmlns="urn:test"/>')))
    (root,) = replies(out)
    path = root.find(f".//{{{NC_NS}}}error-path")
    assert path.nsmap.get("nc") == NC_NS


def test_rpc_hook_can_refuse(server):
    srv = Server(SimpleNamespace(max_message_size=0), server.schema)
    srv.register_rpc("urn:test", "none", lambda ctx, op: None)

    def deny(ctx, op):
        raise RpcError("access-denied", "no", type="protocol")

    srv.add_rpc_hook(deny)
    s = open_session(srv)
    (out,) = run(srv, s, chunk(rpc(b'<none xmlns="urn:test"/>')))
    assert err(replies(out)[0])["tag"] == "access-denied"


def test_end_session_runs_hooks_once(server):
    srv = Server(SimpleNamespace(max_message_size=0), server.schema)
    ended = []
    srv.add_session_end_hook(ended.append)
    s = srv.new_session("bob")
    srv.end_session(s)
    srv.end_session(s)
    assert ended == [s.session_id]
    assert s.session_id not in srv.sessions
