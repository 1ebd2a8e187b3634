"""RFC 8526 with-origin, origin-filter and negated-origin-filter on ds:operational,
over ncclient/SSH against an agent with its dataplane (socket 0 is the agent's own)."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

NS = "urn:memif-agent:yang:memif-agent"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
OR = "urn:ietf:params:xml:ns:yang:ietf-origin"
WD = "urn:ietf:params:xml:ns:netconf:default:1.0"
IF = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
ORIGIN = f"{{{OR}}}origin"
NSMAP = {"m": NS, "if": IF}


@pytest.fixture
def m(start_agent, tmp_path):
    ag = start_agent(tmp_path / "a")
    m = ag.connect()
    sock = tmp_path / "o.sock"
    m.edit_config(
        target="running",
        config=(
            f'<config><memif xmlns="{NS}">'
            f"<socket><id>1</id><filename>{sock}</filename></socket>"
            "<interface><socket-id>1</socket-id><id>1</id><ring-size>10</ring-size>"
            "<enabled>true</enabled></interface></memif></config>"
        ),
    )
    return m


def get_data(m, body: str, datastore: str = "operational") -> etree._Element:
    req = (
        f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:or="{OR}">'
        f"<datastore>ds:{datastore}</datastore>{body}</get-data>"
    )
    reply = etree.fromstring(m.dispatch(to_ele(req)).xml.encode())
    return reply.find(f"{{{NMDA}}}data")


def origin(el: etree._Element) -> str | None:
    """The origin in effect at `el` (inherited from the nearest annotated ancestor),
    as ns-qualified identity."""
    while el is not None:
        v = el.get(ORIGIN)
        if v is not None:
            prefix, _, name = v.rpartition(":")
            assert el.nsmap[prefix] == OR, v  # the prefix resolves to ietf-origin
            return name
        el = el.getparent()
    return None


def one(data: etree._Element, path: str) -> etree._Element:
    found = data.xpath(path, namespaces=NSMAP)
    assert len(found) == 1, (path, etree.tostring(data))
    return found[0]


def test_with_origin_intended_system_default(m) -> None:
    d = get_data(m, "<with-origin/><with-defaults>report-all</with-defaults>")
    memif = one(d, "m:memif")
    assert memif.get(ORIGIN) == "or:intended"  # top-level nodes always carry it
    itf = one(d, "m:memif/m:interface[m:id='1']")
    assert ORIGIN not in itf.attrib  # same as its parent: inherited
    # configured to its default value (10): still intended, not default
    assert origin(one(d, "m:memif/m:interface[m:id='1']/m:ring-size")) == "intended"
    assert origin(one(d, "m:memif/m:interface[m:id='1']/m:buffer-size")) == "default"
    assert one(d, "m:memif/m:interface[m:id='1']/m:buffer-size").text == "2048"
    assert one(d, "m:memif/m:interface[m:id='1']/m:mode").get(ORIGIN) == "or:default"
    # the agent's own socket 0 is system, its configured socket 1 intended
    assert one(d, "m:memif/m:socket[m:id='0']").get(ORIGIN) == "or:system"
    assert origin(one(d, "m:memif/m:socket[m:id='0']/m:filename")) == "system"
    assert origin(one(d, "m:memif/m:socket[m:id='1']/m:filename")) == "intended"
    # ietf-interfaces entries derived from memif interfaces: system
    assert one(d, "if:interfaces").get(ORIGIN) == "or:system"
    assert origin(one(d, "if:interfaces/if:interface[if:name='memif1/1']")) == "system"
    # state has no origin of its own
    assert ORIGIN not in one(d, "m:memif/m:interface[m:id='1']/m:state").attrib
    # report-all asked: the internal wd:default tags do not leak
    assert not d.xpath("//@wd:default", namespaces={"wd": WD})
    assert WD.encode() not in etree.tostring(d)  # nor their namespace declarations


def test_with_origin_report_all_tagged_keeps_tags(m) -> None:
    d = get_data(m, "<with-origin/><with-defaults>report-all-tagged</with-defaults>")
    bs = one(d, "m:memif/m:interface[m:id='1']/m:buffer-size")
    assert bs.get(f"{{{WD}}}default") == "true" and origin(bs) == "default"


def test_without_with_origin_no_annotation(m) -> None:
    d = get_data(m, "<with-defaults>report-all</with-defaults>")
    assert not d.xpath("//@or:origin", namespaces={"or": OR})


def test_origin_filter_system(m) -> None:
    d = get_data(m, "<origin-filter>or:system</origin-filter><config-filter>true</config-filter>")
    # socket 0 and the ietf-interfaces entries stay; configured socket 1 and interface go
    assert d.xpath("m:memif/m:socket/m:id/text()", namespaces=NSMAP) == ["0"]
    assert not d.xpath("m:memif/m:interface", namespaces=NSMAP)
    assert one(d, "if:interfaces/if:interface[if:name='memif1/1']") is not None


def test_origin_filter_default_keeps_keys_and_ancestors(m) -> None:
    d = get_data(
        m,
        "<with-defaults>report-all</with-defaults><origin-filter>or:default</origin-filter>"
        "<config-filter>true</config-filter><with-origin/>",
    )
    itf = one(d, "m:memif/m:interface[m:id='1']")
    names = [etree.QName(c).localname for c in itf]
    assert "socket-id" in names and "id" in names  # keys stay with the entry
    assert "buffer-size" in names and "mode" in names
    assert "ring-size" not in names and "enabled" not in names  # intended: dropped
    assert all(
        origin(c) == "default" for c in itf if etree.QName(c).localname not in ("id", "socket-id")
    )


def test_negated_origin_filter_and_state_untouched(m) -> None:
    d = get_data(
        m,
        "<with-defaults>report-all</with-defaults>"
        "<negated-origin-filter>or:default</negated-origin-filter>"
        "<negated-origin-filter>or:system</negated-origin-filter>",
    )
    itf = one(d, "m:memif/m:interface[m:id='1']")
    names = [etree.QName(c).localname for c in itf]
    assert "ring-size" in names and "enabled" in names
    assert "buffer-size" not in names and "mode" not in names
    assert itf.find(f"{{{NS}}}state/{{{NS}}}link-status") is not None  # state is not filtered
    # socket 0 holds state, so it stays for that state (with its key), minus its config
    s0 = one(d, "m:memif/m:socket[m:id='0']")
    assert s0.find(f"{{{NS}}}filename") is None and s0.find(f"{{{NS}}}state") is not None


def test_origin_filter_base_identity_matches_all(m) -> None:
    everything = get_data(m, "<with-defaults>report-all</with-defaults>")
    d = get_data(
        m, "<with-defaults>report-all</with-defaults><origin-filter>or:origin</origin-filter>"
    )
    assert len(d.xpath("//*")) == len(everything.xpath("//*"))


@pytest.mark.parametrize(
    "body, datastore, path",
    [
        ("<with-origin/>", "running", "with-origin"),
        ("<origin-filter>or:intended</origin-filter>", "candidate", "origin-filter"),
        ("<origin-filter>or:nonsense</origin-filter>", "operational", "origin-filter"),
        ("<origin-filter>intended</origin-filter>", "operational", "origin-filter"),
        (
            "<origin-filter>or:system</origin-filter>"
            "<negated-origin-filter>or:system</negated-origin-filter>",
            "operational",
            "negated-origin-filter",
        ),
    ],
)
def test_origin_parameter_errors(m, body: str, datastore: str, path: str) -> None:
    with pytest.raises(RPCError) as exc:
        get_data(m, body, datastore)
    assert exc.value.tag == "invalid-value"
    assert exc.value.path == f"/nc:rpc/ncds:get-data/ncds:{path}"
    assert get_data(m, "") is not None  # the session stays up


def test_origin_advertised(m) -> None:
    yl = {"y": "urn:ietf:params:xml:ns:yang:ietf-yang-library"}
    d = m.get(filter=("subtree", f'<yang-library xmlns="{yl["y"]}"/>')).data
    assert d.xpath("//y:module[y:name='ietf-netconf-nmda']/y:feature/text()", namespaces=yl) == [
        "origin",
        "with-defaults",
    ]
    assert d.xpath("//y:module[y:name='ietf-origin']", namespaces=yl)
    caps = list(m.server_capabilities)
    assert any(
        c.startswith("urn:ietf:params:netconf:capability:with-operational-defaults:1.0?")
        for c in caps
    )
