"""One <get> reads the dataplane's state once: the memif and ietf-interfaces
trees come from one snapshot, with a real dataplane process behind them."""

from __future__ import annotations

import asyncio

from lxml import etree

from agent.app import build_server
from agent.main import parse_args, prepare_state
from agent.rpc import base_ops
from agent.rpc.context import RpcContext
from agent.yangdata.xmltree import NC_NS

MEMIF = "{urn:memif-agent:yang:memif-agent}memif"
INTERFACES = "{urn:ietf:params:xml:ns:yang:ietf-interfaces}interfaces"


def test_unfiltered_get_takes_one_dataplane_snapshot(tmp_path) -> None:
    opts = parse_args(
        ["--state-dir", str(tmp_path / "state"), "--socket0", str(tmp_path / "memif.sock")]
    )
    prepare_state(opts)

    async def run() -> None:
        server = build_server(opts)
        await server.startup()
        try:
            dp = server.dataplane.dp  # the real remote dataplane process
            assert dp is not None
            reads = []
            real_state = dp.state_blob

            async def counted_state(*args, **kwargs):
                reads.append(1)
                return await real_state(*args, **kwargs)

            dp.state_blob = counted_state
            for n in (1, 2):
                tags = [node.tag for node in await server.collect_state()]
                assert MEMIF in tags and INTERFACES in tags
                assert len(reads) == n
                # A later <get> (a later step of the loop) reads anew.
                await asyncio.sleep(0)
            # <get> without a filter (<memif> spliced, the rest merged): one read too.
            ctx = RpcContext(server, 1, "admin", "1")
            op = etree.fromstring(f'<get xmlns="{NC_NS}"/>')
            reply = await base_ops.get(ctx, op)
            assert isinstance(reply, bytes) and b"<dataplane-state>" in reply
            assert b"ietf-interfaces" in reply and len(reads) == 3
        finally:
            await server.shutdown()

    asyncio.run(run())


def test_get_of_memif_spliced_is_the_merged_tree(start_agent, tmp_path) -> None:
    """<get> of <memif/> (state text spliced into running's text) gives over SSH
    the document the tree merge gives (an XPath filter takes that path), with a
    linked peer whose name carries markup, a control character and non-ASCII."""
    from agent_harness import wait_until
    from lxml import etree

    from dataplane import Dataplane

    ns = "urn:memif-agent:yang:memif-agent"
    ag = start_agent(tmp_path / "a")
    sock = str(tmp_path / "s1.sock")
    m = ag.connect()
    m.edit_config(
        target="running",
        config=f'<config><memif xmlns="{ns}"><socket><id>1</id><filename>{sock}</filename>'
        "</socket><interface><socket-id>1</socket-id><id>1</id><enabled>true</enabled>"
        "</interface><interface><socket-id>1</socket-id><id>2</id></interface></memif></config>",
    )
    peer = Dataplane("p<&>\x01\xff")  # sent as UTF-8: "\xff" is U+00FF
    try:
        peer.add_socket(1, sock)
        peer.add_interface(1, 1, role="client", enabled=True)
        peer.add_interface(1, 7, role="client", enabled=True)  # refused: not configured
        spliced = ("subtree", f'<memif xmlns="{ns}"/>')
        merged = ("xpath", ({"m": ns}, "/m:memif"))

        def linked() -> bool:
            return "<remote-name>p&lt;&amp;&gt;\\x01\u00ff</remote-name>" in m.get(spliced).data_xml

        wait_until(linked, what="memif1/1 up, named by its peer")
        a, b = (etree.tostring(m.get(f).data, method="c14n") for f in (spliced, merged))
        assert a == b
        assert b"<connection-state>connected</connection-state>" in a
        assert b"<socket><id>0</id>" in a and b"<dataplane-state>" in a
        # Entries named by their keys (spliced too): what the XPath naming them gives.
        keyed = (
            "subtree",
            f'<memif xmlns="{ns}"><interface><socket-id>1</socket-id><id>1</id></interface>'
            "<socket><id>0</id></socket></memif>",
        )
        named = (
            "xpath",
            (
                {"m": ns},
                "/m:memif/m:interface[m:socket-id='1'][m:id='1'] | /m:memif/m:socket[m:id='0']",
            ),
        )
        a, b = (
            etree.tostring(m.get(f).data, method="c14n", exclusive=True) for f in (keyed, named)
        )
        assert a == b
        assert b"<connection-state>connected</connection-state>" in a and b"<id>0</id>" in a
        assert b"<id>2</id>" not in a

        # No filter at all: <memif> spliced, the other top-level nodes merged as trees;
        # the same nodes as the merge of everything (XPath /*) gives.
        def tops(data) -> dict[str, bytes]:
            return {c.tag: etree.tostring(c, method="c14n", exclusive=True) for c in data}

        whole, merged_all = tops(m.get().data), tops(m.get(("xpath", ({}, "/*"))).data)
        assert whole.keys() == merged_all.keys()
        memif_tag = f"{{{ns}}}memif"
        ietf = "{urn:ietf:params:xml:ns:yang:ietf-interfaces}interfaces"
        assert memif_tag in whole and ietf in whole
        for tag in (memif_tag, ietf):
            assert whole[tag] == merged_all[tag], tag
        assert b"memif1/1" in whole[ietf]
    finally:
        peer.close()


def test_get_of_memif_for_a_user_nacm_limits_is_the_filtered_tree(start_agent, tmp_path) -> None:
    """The spliced <get> is only for sessions NACM does not limit: a read-only
    user gets the state and not the secret, the recovery user both."""
    from agent.ssh.users import hash_password

    ns = "urn:memif-agent:yang:memif-agent"
    users = tmp_path / "users"
    users.write_text(
        f"admin:{hash_password('admin')}::admin\nops:{hash_password('pw-ops')}::operators\n"
    )
    users.chmod(0o600)
    ag = start_agent(tmp_path / "a", "--users", str(users))
    admin, ops = ag.connect(), ag.connect("ops", "pw-ops")
    admin.edit_config(
        target="running",
        config=f'<config><memif xmlns="{ns}"><socket><id>1</id><filename>{tmp_path}/n.sock'
        "</filename></socket><interface><socket-id>1</socket-id><id>1</id>"
        "<secret>s3cret</secret></interface></memif></config>",
    )
    whole = ("subtree", f'<memif xmlns="{ns}"/>')
    got = ops.get(filter=whole).data_xml
    assert "<name>memif1/1</name>" in got and "<dataplane-state>" in got
    assert "secret" not in got
    mine = admin.get(filter=whole).data_xml
    assert "<secret>s3cret</secret>" in mine and "<name>memif1/1</name>" in mine
