"""Per-message limits, parsing and message-id rules over real SSH (issues 12, 13).

Each hostile message gets a clear <rpc-error> quickly and the session stays up.
"""

from __future__ import annotations

import time

import pytest
from agent_harness import HELLO10, HELLO11, Raw, arun, chunk, rpc
from lxml import etree

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
GET_CONFIG = b"<get-config><source><running/></source></get-config>"


def _ns_memif() -> str:
    from agent.yangdata.schema import module_ns, shared_context

    return module_ns(next(m for m in shared_context() if m.name() == "memif-agent"))


def error_of(reply: etree._Element) -> tuple[str, str]:
    err = reply.find(f"{{{NC}}}rpc-error")
    assert err is not None, etree.tostring(reply)
    return err.findtext(f"{{{NC}}}error-tag"), err.findtext(f"{{{NC}}}error-message") or ""


async def still_works(s: Raw, mid: int = 99) -> None:
    r = await s.call(GET_CONFIG, mid)
    assert r.find(f"{{{NC}}}data") is not None, etree.tostring(r)


@pytest.fixture(scope="module")
def wire_agent(tmp_path_factory):
    from agent_harness import AgentProcess

    a = AgentProcess(
        tmp_path_factory.mktemp("wire"),
        "--no-dataplane",
        "--max-elements",
        "20000",
        "--max-filter-elements",
        "500",
    ).start()
    yield a
    a.stop()


def test_dtd_refused_in_utf16(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        doc = (
            '<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE rpc [<!ENTITY a "x">]>'
            f'<rpc xmlns="{NC}" message-id="7"><get-config><source><running/></source>'
            "</get-config></rpc>"
        ).encode("utf-16")
        assert b"<!DOCTYPE" not in doc  # the byte check the agent used to rely on
        s.send(doc)
        r = etree.fromstring(await s.read())
        tag, msg = error_of(r)
        assert (tag, r.get("message-id")) == ("malformed-message", "7")
        assert "DTD" in msg
        # The same message without the DTD is served: UTF-16 itself is parsed.
        s.send(
            (
                '<?xml version="1.0" encoding="UTF-16"?>'
                f'<rpc xmlns="{NC}" message-id="8"><get-config><source><running/></source>'
                "</get-config></rpc>"
            ).encode("utf-16")
        )
        r = etree.fromstring(await s.read())
        assert r.find(f"{{{NC}}}data") is not None
        await still_works(s)
        s.close()

    arun(go())


@pytest.mark.parametrize("hello", [HELLO10, HELLO11], ids=["base1.0", "base1.1"])
def test_whitespace_before_declaration_and_between_messages(wire_agent, hello):
    async def go():
        import asyncssh

        conn = await asyncssh.connect(
            "127.0.0.1",
            wire_agent.port,
            username="admin",
            password="admin",
            known_hosts=None,
            client_keys=None,
        )
        w, r, _ = await conn.open_session(subsystem="netconf", encoding=None)
        s = Raw(conn, w, r, b"base:1.1" in hello)
        await s.read()  # server hello
        w.write(b'\n  \r\n<?xml version="1.0" encoding="UTF-8"?>\n' + hello)
        if s._chunked:
            s.framer.set_chunked()
        for mid in range(1, 4):
            msg = b'\n\t <?xml version="1.0"?>\n' + rpc(GET_CONFIG, mid)
            w.write(chunk(msg) if s._chunked else msg + b"]]>]]>")
            reply = etree.fromstring(await s.read())
            assert reply.get("message-id") == str(mid)
            assert reply.find(f"{{{NC}}}data") is not None, etree.tostring(reply)
        conn.close()

    arun(go())


def test_prefixed_message_id_echoed(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        s.send(
            f'<nc:rpc xmlns:nc="{NC}" nc:message-id="m-1"><nc:get-config><nc:source>'
            "<nc:running/></nc:source></nc:get-config></nc:rpc>".encode()
        )
        raw = await s.read()
        r = etree.fromstring(raw)
        assert r.get(f"{{{NC}}}message-id") == "m-1", raw
        assert r.find(f"{{{NC}}}data") is not None
        s.close()

    arun(go())


def test_attributes_per_element_bounded(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        attrs = b" ".join(b'a%d="1"' % i for i in range(40000))
        t = time.monotonic()
        s.send(b'<rpc xmlns="%s" message-id="5" %s>%s</rpc>' % (NC.encode(), attrs, GET_CONFIG))
        r = etree.fromstring(await s.read())
        assert time.monotonic() - t < 2.0  # was 21 s, quadratic in the attributes
        tag, msg = error_of(r)
        assert tag == "too-big" and "max-attributes" in msg
        # An element deep in the operation is bounded too.
        s.send(
            rpc(
                b"<get-config><source><running %s/></source></get-config>"
                % b" ".join(b'b%d="1"' % i for i in range(100)),
                6,
            )
        )
        tag, msg = error_of(etree.fromstring(await s.read()))
        assert tag == "too-big" and "max-attributes" in msg
        await still_works(s)
        s.close()

    arun(go())


def test_elements_per_message_bounded(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        filt = b"<a/>" * 30000
        s.send(
            rpc(
                b"<get-config><source><running/></source><filter>%s</filter></get-config>" % filt, 3
            )
        )
        r = etree.fromstring(await s.read())
        assert r.get("message-id") == "3"
        tag, msg = error_of(r)
        assert tag == "too-big" and "max-elements" in msg
        await still_works(s)
        s.close()

    arun(go())


def test_subtree_filter_size_bounded(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        ns = _ns_memif().encode()
        body = b'<get-config><source><running/></source><filter><memif xmlns="%s">%s</memif>' % (
            ns,
            b"<socket><id>1</id></socket>" * 300,
        )
        s.send(rpc(body + b"</filter></get-config>", 4))
        tag, msg = error_of(etree.fromstring(await s.read()))
        assert tag == "too-big" and "max-filter-elements" in msg
        # Below the limit the same kind of filter is answered.
        small = body.replace(b"<socket><id>1</id></socket>" * 300, b"<socket><id>1</id></socket>")
        r = await s.call(small + b"</filter></get-config>", 5)
        assert r.find(f"{{{NC}}}data") is not None
        await still_works(s)
        s.close()

    arun(go())


def _xpath_get(select: str, nsdecl: str = "") -> bytes:
    return (f'<get><filter type="xpath" select="{select}"{nsdecl}/></get>').encode()


def test_xpath_cost_refused_before_it_runs(wire_agent):
    async def go():
        s = await Raw.open(wire_agent.port)
        worst = "//*[count(//*[count(//*[count(//*) &gt; 0]) &gt; 0]) &gt; 0]"
        t = time.monotonic()
        r = await s.call(_xpath_get(worst), 1)
        assert time.monotonic() - t < 1.0  # was 62 s
        tag, msg = error_of(r)
        assert tag == "resource-denied" and "xpath-budget" in msg
        # Too deep a nesting is refused too, whatever the data.
        deep = "/*" + "[*" * 40 + "]" * 40
        tag, msg = error_of(await s.call(_xpath_get(deep), 2))
        assert tag == "resource-denied" and "max-xpath-depth" in msg
        long = "/*[" + " or ".join(["1=1"] * 2000) + "]"
        tag, msg = error_of(await s.call(_xpath_get(long), 3))
        assert tag == "too-big" and "max-xpath-length" in msg
        await still_works(s)
        s.close()

    arun(go())


def test_xpath_names_resolved(wire_agent):
    ns = _ns_memif()

    async def go():
        s = await Raw.open(wire_agent.port)
        r = await s.call(
            b"<edit-config><target><candidate/></target><config>"
            b'<memif xmlns="%s"><socket><id>5</id><filename>/tmp/x5.sock</filename></socket>'
            b"</memif></config></edit-config>" % ns.encode(),
            1,
        )
        assert r.find(f"{{{NC}}}ok") is not None, etree.tostring(r)
        assert (await s.call(b"<commit/>", 2)).find(f"{{{NC}}}ok") is not None
        for mid, select in enumerate(
            ["/memif/socket", "/memif-agent:memif/socket", "/memif:memif/memif:socket/id"], 3
        ):
            r = await s.call(_xpath_get(select), mid)
            ids = r.findall(f".//{{{ns}}}socket/{{{ns}}}id")
            assert "5" in [i.text for i in ids], (select, etree.tostring(r))
        # A prefix the filter declares wins over a module prefix of the same name.
        r = await s.call(_xpath_get("/memif:memif", ' xmlns:memif="urn:nope"'), 9)
        assert r.find(f".//{{{ns}}}memif") is None
        s.close()

    arun(go())
