"""RESTCONF data resources over real HTTPS against a real agent: every method,
query parameter and precondition, and NETCONF (ncclient over SSH) seeing
RESTCONF's commits and the other way round."""

from __future__ import annotations

import email.utils
import time

import pytest
from lxml import etree
from restconf_client import (
    NS,
    RC_NS,
    RESTCONF_ARGS,
    RestconfClient,
    error_tags,
    interface_body,
    socket_body,
)

IF = "data/memif-agent:memif/interface"
SOCK = "data/memif-agent:memif/socket"


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane", *RESTCONF_ARGS)


def memif(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def test_discovery_root_and_tls(ag) -> None:
    rc = RestconfClient(ag)
    # host-meta needs no login (RFC 8040 §3.1) and points at the root
    r = rc.http.get(rc.root + "/.well-known/host-meta", auth=None)
    assert r.status_code == 200
    link = etree.fromstring(r.content).find("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")
    assert (link.get("rel"), link.get("href")) == ("restconf", "/restconf")
    r = rc.get("")
    assert r.json() == {
        "ietf-restconf:restconf": {
            "data": {},
            "operations": {},
            "yang-library-version": "2019-01-04",
        }
    }
    r = rc.get("", accept="xml")
    assert r.headers["Content-Type"].startswith("application/yang-data+xml")
    assert etree.fromstring(r.content).tag == f"{{{RC_NS}}}restconf"
    assert rc.get("yang-library-version").json() == {
        "ietf-restconf:yang-library-version": "2019-01-04"
    }
    # the generated certificate verifies (requests checks it against 127.0.0.1)
    assert rc.cert_path.exists()
    assert (rc.cert_path.parent / "restconf_key.pem").stat().st_mode & 0o077 == 0
    r = rc.request("OPTIONS", "data")
    assert "PATCH" in r.headers["Allow"]
    assert "application/yang-patch+json" in r.headers["Accept-Patch"]
    r = rc.request("OPTIONS", "ds/ietf-datastores:candidate")
    assert "PUT" not in r.headers["Allow"] and "GET" in r.headers["Allow"]
    r = rc.request("HEAD", "data")
    assert r.status_code == 200 and r.content == b""
    assert int(r.headers["Content-Length"]) > 0


def test_methods_and_netconf_see_each_other(ag) -> None:
    rc = RestconfClient(ag)
    m = ag.connect()
    # POST creates a child: 201 and Location of the new resource
    r = rc.post("data/memif-agent:memif", socket_body(23, "/tmp/rc-23.sock"))
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith("/restconf/data/memif-agent:memif/socket=23")
    assert "ETag" in r.headers and "Last-Modified" in r.headers
    assert rc.post("data/memif-agent:memif", socket_body(23, "/tmp/x")).status_code == 409
    assert error_tags(rc.post("data/memif-agent:memif", socket_body(23, "/tmp/x"))) == [
        "data-exists"
    ]
    # NETCONF sees RESTCONF's commit, in running and (RFC 8040 §1.4) in startup
    assert "/tmp/rc-23.sock" in m.get_config("running").data_xml
    assert "/tmp/rc-23.sock" in m.get_config("startup").data_xml
    # PUT creates (201), then replaces (204)
    r = rc.put(f"{IF}=23,100", interface_body(23, 100, enabled=True, **{"ring-size": 11}))
    assert r.status_code == 201, r.text
    r = rc.put(f"{IF}=23,100", interface_body(23, 100, enabled=True))
    assert r.status_code == 204, r.text
    got = rc.get(f"{IF}=23,100").json()
    assert got == {"memif-agent:interface": [{"socket-id": 23, "id": 100, "enabled": True}]}
    # XML in, XML out
    body = (
        f'<interface xmlns="{NS}"><socket-id>23</socket-id><id>101</id><mode>ip</mode></interface>'
    )
    assert rc.put(f"{IF}=23,101", body, content="xml").status_code == 201
    x = etree.fromstring(rc.get(f"{IF}=23,101", accept="xml").content)
    assert x.tag == f"{{{NS}}}interface" and x.findtext(f"{{{NS}}}mode") == "ip"
    # PATCH merges into an existing resource only
    assert rc.patch(f"{IF}=23,101", interface_body(23, 101, enabled=True)).status_code == 204
    assert rc.get(f"{IF}=23,101/enabled").json() == {"memif-agent:enabled": True}
    assert rc.get(f"{IF}=23,101/mode").json() == {"memif-agent:mode": "ip"}
    r = rc.patch(f"{IF}=23,102", interface_body(23, 102, enabled=True))
    assert r.status_code == 404, r.text
    # a leaf as the target
    assert rc.put(f"{IF}=23,101/mode", {"memif-agent:mode": "ethernet"}).status_code == 204
    assert "<mode>ethernet</mode>" in m.get_config("running").data_xml
    # NETCONF's commit is RESTCONF's to read
    m.edit_config(
        target="running",
        config=memif(
            "<interface><socket-id>23</socket-id><id>100</id><ring-size>12</ring-size></interface>"
        ),
    )
    assert rc.get(f"{IF}=23,100/ring-size").json() == {"memif-agent:ring-size": 12}
    # DELETE: 204, then the resource is gone (404), and so in NETCONF
    assert rc.delete(f"{IF}=23,101").status_code == 204
    assert rc.delete(f"{IF}=23,101").status_code == 404
    assert rc.get(f"{IF}=23,101").status_code == 404
    assert "<id>101</id>" not in m.get_config("running").data_xml
    # the datastore resource: PUT replaces all of it, DELETE is not allowed
    r = rc.put("data", {"ietf-restconf:data": {"memif-agent:memif": {}}})
    assert r.status_code == 204, r.text
    assert "rc-23" not in m.get_config("running").data_xml
    assert rc.delete("data").status_code == 405
    # validation failures change nothing: an interface on a socket that does not exist
    r = rc.put(f"{IF}=77,1", interface_body(77, 1))
    assert r.status_code in (400, 409) and r.json()["ietf-restconf:errors"]["error"]
    assert rc.get(f"{IF}=77,1").status_code == 404
    assert "<id>77</id>" not in m.get_config("running").data_xml


def test_rfc8527_datastores(ag) -> None:
    rc = RestconfClient(ag)
    m = ag.connect()
    m.edit_config(
        target="candidate", config=memif("<socket><id>5</id><filename>/tmp/c5</filename></socket>")
    )
    cand = rc.get("ds/ietf-datastores:candidate/memif-agent:memif/socket=5").json()
    assert cand == {"memif-agent:socket": [{"id": 5, "filename": "/tmp/c5"}]}
    assert rc.get("ds/ietf-datastores:running/memif-agent:memif/socket=5").status_code == 404
    # the candidate holds another session's uncommitted changes: a RESTCONF edit
    # of running would be undone by their commit, so it is refused
    r = rc.post("data/memif-agent:memif", socket_body(6, "/tmp/c6"))
    assert r.status_code == 409 and error_tags(r) == ["in-use"]
    m.commit()
    assert rc.get("ds/ietf-datastores:running/memif-agent:memif/socket=5").status_code == 200
    assert rc.get("ds/ietf-datastores:startup").status_code == 200
    op = rc.get("ds/ietf-datastores:operational/memif-agent:memif/socket=5").json()
    assert op["memif-agent:socket"][0]["filename"] == "/tmp/c5"
    # only running is written through RESTCONF
    r = rc.put("ds/ietf-datastores:candidate/memif-agent:memif/socket=7", socket_body(7, "/x"))
    assert r.status_code == 405
    assert rc.get("ds/ietf-datastores:nonesuch").status_code == 404
    # a write through /ds/ietf-datastores:running is a write of running
    r = rc.post("ds/ietf-datastores:running/memif-agent:memif", socket_body(8, "/tmp/c8"))
    assert r.status_code == 201, r.text
    assert "/tmp/c8" in m.get_config("running").data_xml
    # RFC 8040 §1.4: the candidate (clean) follows running, and so does startup
    assert "/tmp/c8" in m.get_config("candidate").data_xml
    assert "/tmp/c8" in m.get_config("startup").data_xml
    m.discard_changes()  # nothing to discard: the edit is committed, not pending
    assert "/tmp/c8" in m.get_config("candidate").data_xml


def test_locks_give_409_lock_denied(ag) -> None:
    rc = RestconfClient(ag)
    m = ag.connect()
    for target in ("running", "candidate", "startup"):
        m.lock(target)
        r = rc.post("data/memif-agent:memif", socket_body(9, "/tmp/l9"))
        assert r.status_code == 409, (target, r.text)
        assert error_tags(r) == ["lock-denied"]
        err = r.json()["ietf-restconf:errors"]["error"][0]
        assert err["error-info"]["session-id"] == str(m.session_id)
        m.unlock(target)
    assert rc.post("data/memif-agent:memif", socket_body(9, "/tmp/l9")).status_code == 201
    # reads are not locked out
    m.lock("running")
    assert rc.get(f"{SOCK}=9").status_code == 200


def test_query_parameters(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a", *RESTCONF_ARGS)  # with the dataplane: live state
    rc = RestconfClient(ag)
    sock = str(tmp_path / "q.sock")
    assert rc.post("data/memif-agent:memif", socket_body(3, sock)).status_code == 201
    assert rc.put(f"{IF}=3,1", interface_body(3, 1, enabled=True)).status_code == 201
    # state appears in /data (operational) but not in running
    full = rc.get(f"{IF}=3,1").json()["memif-agent:interface"][0]
    assert full["state"]["name"] == "memif3/1"
    assert (
        "state"
        not in rc.get(f"ds/ietf-datastores:running/{IF[5:]}=3,1").json()["memif-agent:interface"][0]
    )
    # content
    cfg = rc.get(f"{IF}=3,1?content=config").json()["memif-agent:interface"][0]
    assert "state" not in cfg and cfg["enabled"] is True
    st = rc.get(f"{IF}=3,1?content=nonconfig").json()["memif-agent:interface"][0]
    assert "state" in st and "enabled" not in st and st["id"] == 1  # keys stay
    # depth: the target is depth 1, its children 2
    d1 = rc.get(f"{IF}=3,1?depth=1").json()["memif-agent:interface"][0]
    assert set(d1) == {"socket-id", "id"}
    d2 = rc.get(f"{IF}=3,1?depth=2").json()["memif-agent:interface"][0]
    assert d2["enabled"] is True and d2.get("state", {}) == {}
    # fields
    f = rc.get(f"{IF}=3,1?fields=enabled;state/name").json()["memif-agent:interface"][0]
    assert f == {"socket-id": 3, "id": 1, "enabled": True, "state": {"name": "memif3/1"}}
    f = rc.get("data?fields=memif-agent:memif/socket(id)").json()
    socks = f["ietf-restconf:data"]["memif-agent:memif"]["socket"]
    assert list(f["ietf-restconf:data"]) == ["memif-agent:memif"]
    assert sorted(socks, key=lambda s: s["id"]) == [{"id": 0}, {"id": 3}]  # 0 is built in
    # with-defaults
    plain = rc.get(f"{IF}=3,1?content=config").json()["memif-agent:interface"][0]
    assert "ring-size" not in plain
    alld = rc.get(f"{IF}=3,1?content=config&with-defaults=report-all").json()
    assert alld["memif-agent:interface"][0]["ring-size"] == 10
    r = rc.get(f"{IF}=3,1?content=config&with-defaults=report-all-tagged", accept="xml")
    tagged = etree.fromstring(r.content)
    ring = tagged.find(f"{{{NS}}}ring-size")
    assert ring.get("{urn:ietf:params:xml:ns:netconf:default:1.0}default") == "true"
    tj = rc.get(f"{IF}=3,1?content=config&with-defaults=report-all-tagged").json()
    entry = tj["memif-agent:interface"][0]
    assert entry["ring-size"] == 10
    assert entry["@ring-size"] == {"ietf-netconf-with-defaults:default": True}
    assert "@enabled" not in entry  # set, not a default
    rc.put(f"{IF}=3,1/ring-size", {"memif-agent:ring-size": 10})
    trimmed = rc.get(f"{IF}=3,1?content=config&with-defaults=trim").json()
    assert "ring-size" not in trimmed["memif-agent:interface"][0]
    explicit = rc.get(f"{IF}=3,1?content=config").json()
    assert explicit["memif-agent:interface"][0]["ring-size"] == 10
    # bad parameters: 400 with a message, never ignored
    for q in (
        "depth=0",
        "depth=x",
        "content=some",
        "with-defaults=none",
        "fields=(",
        "fields=a(b",
        "nonesuch=1",
        "depth=1&depth=2",
        "insert=first",
        "start-time=2020-01-01T00:00:00Z",
    ):
        r = rc.get(f"{IF}=3,1?{q}")
        assert r.status_code == 400, (q, r.text)
        assert r.json()["ietf-restconf:errors"]["error"][0]["error-message"]
    r = rc.put(f"{IF}=3,1?depth=1", interface_body(3, 1))
    assert r.status_code == 400


def test_preconditions(ag) -> None:
    rc = RestconfClient(ag)
    m = ag.connect()
    rc.post("data/memif-agent:memif", socket_body(4, "/tmp/p4"))
    rc.put(f"{IF}=4,1", interface_body(4, 1))
    rc.put(f"{IF}=4,2", interface_body(4, 2))
    r = rc.get(f"{IF}=4,1")
    tag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    assert tag.startswith('"') and email.utils.parsedate_to_datetime(modified)
    # the same tag while unchanged; 304 for If-None-Match
    assert rc.get(f"{IF}=4,1").headers["ETag"] == tag
    r = rc.get(f"{IF}=4,1", headers={"If-None-Match": tag})
    assert r.status_code == 304 and r.headers["ETag"] == tag
    # another resource's change leaves this tag alone; the datastore's tag changes
    whole = rc.get("data").headers.get("ETag")
    rc.put(f"{IF}=4,2/enabled", {"memif-agent:enabled": True})
    assert rc.get(f"{IF}=4,1").headers["ETag"] == tag
    assert rc.get("data").headers.get("ETag") != whole
    # If-Match with a stale tag: 412, nothing changed
    r = rc.put(f"{IF}=4,1/enabled", {"memif-agent:enabled": True}, headers={"If-Match": '"x"'})
    assert r.status_code == 412 and error_tags(r) == ["operation-failed"]
    assert "enabled" not in rc.get(f"{IF}=4,1").json()["memif-agent:interface"][0]
    # the right tag: done, and the tag changes
    r = rc.patch(f"{IF}=4,1", interface_body(4, 1, enabled=True), headers={"If-Match": tag})
    assert r.status_code == 204, r.text
    new_tag = rc.get(f"{IF}=4,1").headers["ETag"]
    assert new_tag != tag and r.headers["ETag"] == new_tag
    # a NETCONF commit changes the tag too
    m.edit_config(
        target="running",
        config=memif(
            "<interface><socket-id>4</socket-id><id>1</id><enabled>false</enabled></interface>"
        ),
    )
    assert rc.get(f"{IF}=4,1").headers["ETag"] not in (tag, new_tag)
    r = rc.delete(f"{IF}=4,1", headers={"If-Match": new_tag})
    assert r.status_code == 412
    # If-None-Match: * on a write means "only if it does not exist"
    r = rc.put(f"{IF}=4,1", interface_body(4, 1), headers={"If-None-Match": "*"})
    assert r.status_code == 412
    r = rc.put(f"{IF}=4,9", interface_body(4, 9), headers={"If-None-Match": "*"})
    assert r.status_code == 201
    # If-Unmodified-Since: an hour ago is before the last change
    past = email.utils.formatdate(time.time() - 3600, usegmt=True)
    r = rc.delete(f"{IF}=4,9", headers={"If-Unmodified-Since": past})
    assert r.status_code == 412
    assert rc.get(f"{IF}=4,9").status_code == 200
    future = email.utils.formatdate(time.time() + 3600, usegmt=True)
    assert rc.delete(f"{IF}=4,9", headers={"If-Unmodified-Since": future}).status_code == 204
    r = rc.get(f"{IF}=4,2", headers={"If-Modified-Since": future})
    assert r.status_code == 304
