"""RFC 8040 §6 event stream: the NETCONF stream as text/event-stream, with the
agent's link-state-change (a real memif peer connecting) and the RFC 6470
events, in JSON and XML; listed in ietf-restconf-monitoring."""

from __future__ import annotations

import json
import queue
import threading

import pytest
from agent_harness import wait_until
from lxml import etree
from restconf_client import NS, RESTCONF_ARGS, RestconfClient, interface_body, socket_body

from dataplane import Dataplane

NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"


class EventReader:
    """Reads SSE events of a stream in a thread: one event per blank-line-ended block."""

    def __init__(self, rc: RestconfClient, path: str) -> None:
        self.resp = rc.http.get(rc.base + path, stream=True, timeout=60)
        self.status = self.resp.status_code
        self.headers = self.resp.headers
        self.events: queue.Queue[str] = queue.Queue()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        data: list[str] = []
        try:
            for line in self.resp.iter_lines(decode_unicode=True):
                if line.startswith("data: "):
                    data.append(line[6:])
                elif line == "" and data:
                    self.events.put("\n".join(data))
                    data = []
        except Exception:
            pass

    def next(self, pred, timeout: float = 20.0) -> str:
        """The first event `pred` accepts (others are skipped)."""
        import time

        end = time.monotonic() + timeout
        while True:
            left = end - time.monotonic()
            assert left > 0, "no such event on the stream"
            try:
                ev = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if pred(ev):
                return ev

    def close(self) -> None:
        self.resp.close()


@pytest.fixture
def ag(start_agent, tmp_path):
    return start_agent(tmp_path / "a", *RESTCONF_ARGS)


def test_json_stream_link_state_and_config_change(ag, tmp_path) -> None:
    rc = RestconfClient(ag)
    mon = rc.get("data/ietf-restconf-monitoring:restconf-state/streams").json()
    stream = mon["ietf-restconf-monitoring:streams"]["stream"][0]
    assert stream["name"] == "NETCONF" and stream["replay-support"] is False
    locations = {a["encoding"]: a["location"] for a in stream["access"]}
    assert locations["json"].endswith("/restconf/streams/NETCONF/json")
    reader = EventReader(rc, locations["json"].split("/restconf/", 1)[1])
    assert reader.status == 200
    assert reader.headers["Content-Type"].startswith("text/event-stream")
    try:
        # a NETCONF session's commit: netconf-config-change, with who made it
        m = ag.connect()
        m.edit_config(
            target="running",
            config=f'<config><memif xmlns="{NS}"><socket><id>4</id>'
            f"<filename>{tmp_path}/s4.sock</filename></socket></memif></config>",
        )
        ev = json.loads(reader.next(lambda e: "netconf-config-change" in e))
        n = ev["ietf-restconf:notification"]
        change = n["ietf-netconf-notifications:netconf-config-change"]
        assert change["changed-by"]["session-id"] == int(m.session_id)
        assert change["datastore"] == "running" and n["eventTime"].endswith("Z")
        # a real memif peer connects to an interface made over RESTCONF: link up
        path = str(tmp_path / "s4.sock")
        assert (
            rc.put(
                "data/memif-agent:memif/interface=4,1", interface_body(4, 1, enabled=True)
            ).status_code
            == 201
        )
        peer = Dataplane("rc-peer")
        try:
            peer.add_socket(1, path)
            peer.add_interface(1, 1, role="client", enabled=True)
            ev = json.loads(reader.next(lambda e: "link-state-change" in e))
            lsc = ev["ietf-restconf:notification"]["memif-agent:link-state-change"]
            assert (lsc["socket-id"], lsc["id"], lsc["link-status"]) == (4, 1, "up")
            st = wait_until(
                lambda: (
                    rc.get("data/memif-agent:memif/interface=4,1/state/link-status").json()
                    == {"memif-agent:link-status": "up"}
                ),
                what="link-status up over RESTCONF",
            )
            assert st
        finally:
            peer.close()
        ev = json.loads(reader.next(lambda e: "link-state-change" in e))
        lsc = ev["ietf-restconf:notification"]["memif-agent:link-state-change"]
        assert lsc["link-status"] == "down"
    finally:
        reader.close()


def test_xml_stream_and_errors(ag, tmp_path) -> None:
    rc = RestconfClient(ag)
    reader = EventReader(rc, "streams/NETCONF/xml")
    try:
        rc.post("data/memif-agent:memif", socket_body(5, str(tmp_path / "s5.sock")))
        ev = etree.fromstring(reader.next(lambda e: "netconf-config-change" in e).encode())
        assert ev.tag == f"{{{NOTIF}}}notification"
        change = ev.find(f"{{{NCN}}}netconf-config-change")
        assert change.findtext(f"{{{NCN}}}changed-by/{{{NCN}}}username") == "admin"
    finally:
        reader.close()
    assert rc.get("streams/OTHER/xml").status_code == 404
    assert rc.get("streams/NETCONF/yaml").status_code == 404
    assert rc.get("streams/NETCONF/xml?start-time=2020-01-01T00:00:00Z").status_code == 400
    assert rc.get("streams/NETCONF/xml?depth=1").status_code == 400
    assert RestconfClient(ag, password="wrong").get("streams/NETCONF/xml").status_code == 401
    # while a stream is open its subscription is a session of the monitoring
    # table; it goes with its client
    m = ag.connect()
    flt = (
        "subtree",
        '<netconf-state xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
        "<sessions/></netconf-state>",
    )

    def sessions() -> int:
        return m.get(filter=flt).data_xml.count("<session>")

    reader = EventReader(rc, "streams/NETCONF/xml")
    wait_until(lambda: sessions() == 2, what="the stream's session")
    reader.close()
    wait_until(lambda: sessions() == 1, what="the stream's session to end")
