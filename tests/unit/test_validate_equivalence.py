"""The typed memif parse accepts exactly what libyang accepts for the memif
model: commits skip libyang for <memif> (agent.yangdata.validate._TYPED), so the two
must never disagree."""

from __future__ import annotations

import libyang
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from agent.errors import RpcErrors
from agent.memif.config import MemifConfig
from agent.yangdata.schema import shared_context

NS = "urn:memif-agent:yang:memif-agent"

VALUES = {
    "enabled": ["true", "false", "yes", "1", ""],
    "role": ["server", "client", "master", "Server"],
    "mode": ["ethernet", "ip", "punt-inject", "eth"],
    "mac-address": [
        "02:fe:00:00:00:01",
        "02:FE:aa:bb:cc:dd",
        "02:fe:00:00:00",
        "zz:fe:00:00:00:01",
    ],
    "ring-size": ["8", "10", "32", "7", "33", "010", "+9", " 12 ", "x", ""],
    "buffer-size": ["64", "2048", "65535", "63", "65536", "-1"],
    "rx-queues": ["1", "255", "0", "256"],
    "tx-queues": ["1", "4", "0"],
    "secret": ["a", "x" * 23, "x" * 24, "has space", "ok!~", ""],
    "xconnect": ["memif1/2", "memif0/0", "eth0", "memif1/"],
}
SOCKET_IDS = ["1", "0", "4294967294", "4294967295", "-1", "07", "a"]
FILENAMES = ["/tmp/a.sock", "rel.sock", "/", "/" + "b" * 106, "/" + "b" * 107]


@st.composite
def documents(draw) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 2))):
        sid = draw(st.sampled_from(SOCKET_IDS))
        fname = draw(st.sampled_from([*FILENAMES, None]))
        f = f"<filename>{fname}</filename>" if fname is not None else ""
        parts.append(f"<socket><id>{sid}</id>{f}</socket>")
    for _ in range(draw(st.integers(0, 2))):
        leaves = draw(st.dictionaries(st.sampled_from(sorted(VALUES)), st.just(None), max_size=4))
        body = "".join(f"<{k}>{draw(st.sampled_from(VALUES[k]))}</{k}>" for k in leaves)
        sid = draw(st.sampled_from(SOCKET_IDS[:4]))
        parts.append(f"<interface><socket-id>{sid}</socket-id><id>5</id>{body}</interface>")
    return f'<memif xmlns="{NS}">{"".join(parts)}</memif>'.encode()


def libyang_accepts(doc: bytes) -> bool:
    try:
        tree = shared_context().parse_data_mem(doc, "xml", strict=True, no_state=True)
    except libyang.LibyangError:
        return False
    if tree is not None:
        tree.free()
    return True


def typed_accepts(doc: bytes) -> bool:
    try:
        MemifConfig.from_config(etree.fromstring(doc))
    except RpcErrors:
        return False
    return True


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_typed_parse_agrees_with_libyang(doc: bytes) -> None:
    assert typed_accepts(doc) == libyang_accepts(doc), doc.decode()
