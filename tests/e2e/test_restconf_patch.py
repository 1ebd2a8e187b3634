"""RFC 8072 YANG Patch (one commit or none) and RFC 8040 operations, over real
HTTPS against a real agent."""

from __future__ import annotations

import pytest
from lxml import etree
from restconf_client import NS, PATCH_JSON, PATCH_XML, RESTCONF_ARGS, RestconfClient

YP = "urn:ietf:params:xml:ns:yang:ietf-yang-patch"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane", *RESTCONF_ARGS)


def yp(pid: str, *edits: dict) -> dict:
    return {"ietf-yang-patch:yang-patch": {"patch-id": pid, "edit": list(edits)}}


def edit(eid: str, op: str, target: str, value: dict | None = None) -> dict:
    e = {"edit-id": eid, "operation": op, "target": target}
    if value is not None:
        e["value"] = value
    return e


def itf(sid: int, iid: int, **leaves) -> dict:
    return {"memif-agent:interface": [{"socket-id": sid, "id": iid, **leaves}]}


def test_yang_patch_json(ag) -> None:
    rc = RestconfClient(ag)
    m = ag.connect()
    body = yp(
        "add",
        edit(
            "s", "create", "/socket=5", {"memif-agent:socket": [{"id": 5, "filename": "/tmp/y5"}]}
        ),
        edit("i1", "create", "/interface=5,1", itf(5, 1, enabled=True)),
        edit("i2", "merge", "/interface=5,2", itf(5, 2)),
    )
    r = rc.patch("data/memif-agent:memif", body, content=PATCH_JSON)
    assert r.status_code == 200, r.text
    assert r.json() == {"ietf-yang-patch:yang-patch-status": {"patch-id": "add", "ok": [None]}}
    cfg = m.get_config("running").data_xml
    assert "/tmp/y5" in cfg and cfg.count("<socket-id>5</socket-id>") == 2
    # a patch that fails in its last edit changes nothing: one commit or none
    body = yp(
        "bad",
        edit("d", "delete", "/interface=5,2"),
        edit("r", "replace", "/interface=5,1", itf(5, 1, enabled=False)),
        edit("c", "create", "/interface=5,1/mode", {"memif-agent:mode": "ip"}),
    )
    r = rc.patch("data/memif-agent:memif", body, content=PATCH_JSON)
    assert r.status_code == 400, r.text  # two edits on one node
    status = r.json()["ietf-yang-patch:yang-patch-status"]
    assert status["patch-id"] == "bad" and "ok" not in status
    body = yp(
        "bad2",
        edit("d", "delete", "/interface=5,2"),
        edit("c", "create", "/interface=5,1", itf(5, 1)),  # exists already
    )
    r = rc.patch("data/memif-agent:memif", body, content=PATCH_JSON)
    assert r.status_code == 409, r.text
    errs = r.json()["ietf-yang-patch:yang-patch-status"]["errors"]["error"]
    assert errs[0]["error-tag"] == "data-exists"
    assert "<id>2</id>" in m.get_config("running").data_xml  # the delete did not happen
    # one edit: its errors are reported in its edit-status
    r = rc.patch(
        "data/memif-agent:memif",
        yp("one", edit("x", "delete", "/interface=5,99")),
        content=PATCH_JSON,
    )
    assert r.status_code == 409, r.text
    es = r.json()["ietf-yang-patch:yang-patch-status"]["edit-status"]["edit"][0]
    assert es["edit-id"] == "x" and es["errors"]["error"][0]["error-tag"] == "data-missing"
    # remove of a missing node is fine; delete and remove take no value
    r = rc.patch(
        "data",
        yp("rm", edit("x", "remove", "/memif-agent:memif/interface=5,99")),
        content=PATCH_JSON,
    )
    assert r.status_code == 200, r.text
    for bad, status in (
        (yp("v", edit("x", "delete", "/interface=5,1", itf(5, 1))), 400),
        (yp("v", edit("x", "create", "/interface=5,3")), 400),
        (yp("v", edit("x", "insert", "/interface=5,3", itf(5, 3))), 400),
        (yp("v", edit("x", "frobnicate", "/interface=5,3", itf(5, 3))), 400),
        (yp("v", edit("x", "create", "interface=5,3", itf(5, 3))), 400),
        (yp("v", edit("x", "create", "/interface=5,3", itf(5, 4))), 400),
        (yp("v", edit("x", "delete", "/interface=5,1"), edit("x", "delete", "/socket=5")), 400),
        (yp("v"), 400),
        ({"ietf-yang-patch:yang-patch": []}, 400),
        ({"nope": {}}, 400),
    ):
        r = rc.patch("data/memif-agent:memif", bad, content=PATCH_JSON)
        assert r.status_code == status, (bad, r.text)
    assert "<id>1</id>" in m.get_config("running").data_xml


def test_yang_patch_xml(ag) -> None:
    rc = RestconfClient(ag)
    body = f"""<yang-patch xmlns="{YP}"><patch-id>x1</patch-id>
      <edit><edit-id>s</edit-id><operation>create</operation><target>/socket=6</target>
        <value><socket xmlns="{NS}"><id>6</id><filename>/tmp/y6</filename></socket></value></edit>
      <edit><edit-id>i</edit-id><operation>replace</operation><target>/interface=6,1</target>
        <value><interface xmlns="{NS}"><socket-id>6</socket-id><id>1</id></interface></value>
      </edit></yang-patch>"""
    r = rc.patch("data/memif-agent:memif", body, content=PATCH_XML, accept="xml")
    assert r.status_code == 200, r.text
    st = etree.fromstring(r.content)
    assert st.tag == f"{{{YP}}}yang-patch-status" and st.find(f"{{{YP}}}ok") is not None
    assert rc.get("data/memif-agent:memif/interface=6,1").status_code == 200
    # the patch's target must exist (a list entry), preconditions hold
    r = rc.patch("data/memif-agent:memif/socket=77", body, content=PATCH_XML)
    assert r.status_code == 404
    r = rc.patch("data/memif-agent:memif", body, content=PATCH_XML, headers={"If-Match": '"x"'})
    assert r.status_code == 412


def test_operations(ag) -> None:
    rc = RestconfClient(ag)
    listing = rc.get("operations").json()["ietf-restconf:operations"]
    assert "ietf-netconf-monitoring:get-schema" in listing
    # NETCONF's own protocol operations are RESTCONF methods, not operations
    assert not any(k.startswith("ietf-netconf:") for k in listing)
    x = etree.fromstring(rc.get("operations", accept="xml").content)
    assert x.find(f"{{{NCM}}}get-schema") is not None
    r = rc.post(
        "operations/ietf-netconf-monitoring:get-schema",
        {"ietf-netconf-monitoring:input": {"identifier": "memif-agent"}},
    )
    assert r.status_code == 200, r.text
    assert "module memif-agent" in r.json()["ietf-netconf-monitoring:output"]["data"]
    r = rc.post(
        "operations/ietf-netconf-monitoring:get-schema",
        f'<input xmlns="{NCM}"><identifier>memif-agent</identifier></input>',
        accept="xml",
    )
    assert r.status_code == 200
    out = etree.fromstring(r.content)
    assert out.tag == f"{{{NCM}}}output" and "module memif-agent" in out.findtext(f"{{{NCM}}}data")
    # errors: the handler's, an unknown operation, bad input
    r = rc.post(
        "operations/ietf-netconf-monitoring:get-schema",
        {"ietf-netconf-monitoring:input": {"identifier": "nonesuch"}},
    )
    assert r.status_code == 400
    assert rc.post("operations/ietf-netconf:commit", {}).status_code == 404
    assert rc.post("operations/nonesuch:x", {}).status_code == 404
    r = rc.post(
        "operations/ietf-netconf-monitoring:get-schema",
        {"ietf-netconf-monitoring:input": {"bogus": 1}},
    )
    assert r.status_code == 400
    assert rc.get("operations/ietf-netconf-monitoring:get-schema").status_code == 405
