"""RFC 8526 get-data and edit-data over ncclient/SSH (ncclient has no NMDA
methods: requests go through dispatch), and the datastores RFC 8525 lists."""

from __future__ import annotations

import pytest
from lxml import etree
from ncclient.operations.rpc import RPCError
from ncclient.xml_ import to_ele

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
MON = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NSMAP = {"m": NS, "n": NMDA, "mon": MON}

CONFIG = (
    f'<memif xmlns="{NS}">'
    "<socket><id>1</id><filename>/tmp/nmda-1.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>1</id><ring-size>11</ring-size></interface>"
    "<interface><socket-id>1</socket-id><id>2</id></interface></memif>"
)


@pytest.fixture
def m(start_agent, tmp_path):
    ag = start_agent(tmp_path / "a", "--no-dataplane")
    m = ag.connect()
    m.edit_config(target="running", config=f"<config>{CONFIG}</config>")
    return m


def get_data(m, datastore: str = "running", body: str = "") -> etree._Element:
    req = (
        f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:{datastore}</datastore>'
        f"{body}</get-data>"
    )
    reply = etree.fromstring(m.dispatch(to_ele(req)).xml.encode())
    data = reply.find(f"{{{NMDA}}}data")
    assert data is not None, etree.tostring(reply)
    return data


def edit_data(m, datastore: str, config: str, extra: str = "") -> None:
    req = (
        f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:{datastore}</datastore>'
        f"{extra}<config>{config}</config></edit-data>"
    )
    m.dispatch(to_ele(req))


def error_of(fn, *a) -> RPCError:
    with pytest.raises(RPCError) as exc:
        fn(*a)
    return exc.value


def test_get_data_running_with_filters(m) -> None:
    d = get_data(m)
    assert d.xpath("//m:interface/m:id/text()", namespaces=NSMAP) == ["1", "2"]
    assert d.find(f"{{{MON}}}netconf-state") is None  # a configuration datastore
    f = (
        f'<subtree-filter><memif xmlns="{NS}"><interface><id>2</id></interface></memif>'
        "</subtree-filter>"
    )
    d = get_data(m, body=f)
    assert d.xpath("//m:interface/m:id/text()", namespaces=NSMAP) == ["2"]
    x = f"<xpath-filter xmlns:x=\"{NS}\">/x:memif/x:interface[x:id='1']/x:ring-size</xpath-filter>"
    d = get_data(m, body=x)
    assert d.xpath("//m:interface/m:ring-size/text()", namespaces=NSMAP) == ["11"]
    d = get_data(m, body="<with-defaults>report-all</with-defaults>")
    assert d.xpath("//m:interface[m:id='2']/m:ring-size/text()", namespaces=NSMAP) == ["10"]


def test_get_data_operational_and_config_filter(m) -> None:
    d = get_data(m, "operational")
    assert d.find(f"{{{MON}}}netconf-state") is not None  # state is there
    assert d.xpath("//m:socket/m:filename/text()", namespaces=NSMAP) == ["/tmp/nmda-1.sock"]
    d = get_data(m, "operational", "<config-filter>false</config-filter>")
    assert d.find(f"{{{MON}}}netconf-state") is not None
    assert d.xpath("//m:filename", namespaces=NSMAP) == []  # configuration is gone
    d = get_data(m, "operational", "<config-filter>true</config-filter>")
    assert d.find(f"{{{MON}}}netconf-state") is None
    assert d.xpath("//m:filename/text()", namespaces=NSMAP) == ["/tmp/nmda-1.sock"]


def test_get_data_max_depth_keeps_keys(m) -> None:
    d = get_data(m, body="<max-depth>1</max-depth>")
    memif = d.find(f"{{{NS}}}memif")
    assert memif is not None and len(memif) == 0
    d = get_data(m, body="<max-depth>2</max-depth>")
    entries = d.xpath("//m:interface", namespaces=NSMAP)
    assert [[c.tag.split("}")[1] for c in e] for e in entries] == [["socket-id", "id"]] * 2
    d = get_data(m, body="<max-depth>unbounded</max-depth>")
    assert d.xpath("//m:ring-size/text()", namespaces=NSMAP) == ["11"]


def test_get_data_max_depth_counts_from_what_a_filter_selects(m) -> None:
    # content match only: the entry is selected whole, depth 1 leaves it its keys
    f = (
        f'<subtree-filter><memif xmlns="{NS}"><interface><id>1</id></interface></memif>'
        "</subtree-filter><max-depth>1</max-depth>"
    )
    d = get_data(m, body=f)
    entries = d.xpath("//m:interface", namespaces=NSMAP)
    assert [[c.tag.split("}")[1] for c in e] for e in entries] == [["socket-id", "id"]]
    # the same with depth 2 brings its leaves
    d = get_data(m, body=f.replace("<max-depth>1<", "<max-depth>2<"))
    assert d.xpath("//m:interface/m:ring-size/text()", namespaces=NSMAP) == ["11"]
    # a selection node selects a leaf: depth 1 keeps it
    f = (
        f'<subtree-filter><memif xmlns="{NS}"><interface><ring-size/></interface></memif>'
        "</subtree-filter><max-depth>1</max-depth>"
    )
    assert get_data(m, body=f).xpath("//m:ring-size/text()", namespaces=NSMAP) == ["11"]
    # XPath: the selected sockets, without their filename at depth 1
    x = f'<xpath-filter xmlns:x="{NS}">/x:memif/x:socket</xpath-filter><max-depth>1</max-depth>'
    d = get_data(m, body=x)
    assert d.xpath("//m:socket/m:id/text()", namespaces=NSMAP) == ["1"]
    assert d.xpath("//m:filename", namespaces=NSMAP) == []


def test_edit_data_running_and_candidate(m) -> None:
    more = f'<memif xmlns="{NS}"><interface><socket-id>1</socket-id><id>3</id></interface></memif>'
    edit_data(m, "running", more)
    assert get_data(m).xpath("//m:interface/m:id/text()", namespaces=NSMAP) == ["1", "2", "3"]
    edit_data(
        m,
        "candidate",
        f'<memif xmlns="{NS}"><socket><id>2</id><filename>/tmp/nmda-2.sock</filename></socket>'
        "</memif>",
    )
    assert get_data(m).xpath("//m:socket/m:id/text()", namespaces=NSMAP) == ["1"]
    assert get_data(m, "candidate").xpath("//m:socket/m:id/text()", namespaces=NSMAP) == ["1", "2"]
    m.commit()
    assert get_data(m).xpath("//m:socket/m:id/text()", namespaces=NSMAP) == ["1", "2"]
    # replace as default-operation, and the ietf-netconf operation attribute inside
    edit_data(
        m,
        "running",
        f'<memif xmlns="{NS}" xmlns:nc="{NC}"><interface nc:operation="delete">'
        "<socket-id>1</socket-id><id>3</id></interface></memif>",
    )
    assert get_data(m).xpath("//m:interface/m:id/text()", namespaces=NSMAP) == ["1", "2"]


@pytest.mark.parametrize(
    ("req", "tag", "words"),
    [
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:intended</datastore>'
            "</get-data>",
            "invalid-value",
            "is not one of",
        ),
        (
            f'<get-data xmlns="{NMDA}"><datastore>running</datastore></get-data>',
            "invalid-value",
            "is not one of",
        ),
        (f'<get-data xmlns="{NMDA}"/>', "missing-element", "needs a <datastore>"),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<with-origin/></get-data>",
            "invalid-value",
            "only valid for datastore ds:operational",
        ),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<max-depth>0</max-depth></get-data>",
            "invalid-value",
            "max-depth",
        ),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<max-depth>٣</max-depth></get-data>",
            "invalid-value",
            "max-depth",
        ),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<max-depth>²</max-depth></get-data>",
            "invalid-value",
            "max-depth",
        ),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<max-depth>" + "9" * 5000 + "</max-depth></get-data>",
            "invalid-value",
            "max-depth",
        ),
        (
            f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "<config-filter>maybe</config-filter></get-data>",
            "invalid-value",
            "config-filter",
        ),
        (
            f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:operational</datastore>'
            "<config/></edit-data>",
            "invalid-value",
            "cannot be edited",
        ),
        (
            f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            "</edit-data>",
            "missing-element",
            "needs a <config>",
        ),
        (
            f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
            f'<config><memif xmlns="{NS}"><interface><socket-id>1</socket-id><id>1</id>'
            "<ring-size>99</ring-size></interface></memif></config></edit-data>",
            "invalid-value",
            "ring-size",
        ),
    ],
)
def test_errors(m, req, tag, words) -> None:
    e = error_of(m.dispatch, to_ele(req))
    assert e.tag == tag and words in e.message, (e.tag, e.message)
    # the session stays up and nothing changed
    assert get_data(m).xpath("//m:ring-size/text()", namespaces=NSMAP) == ["11"]


def test_yang_library_lists_the_datastores(m) -> None:
    yl = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
    d = m.get(filter=("subtree", f'<yang-library xmlns="{yl}"/>')).data
    names = d.xpath("//y:datastore/y:name/text()", namespaces={"y": yl})
    assert names == ["ds:running", "ds:candidate", "ds:startup", "ds:operational"]
    mods = d.xpath("//y:module/y:name/text()", namespaces={"y": yl})
    assert "ietf-netconf-nmda" in mods
