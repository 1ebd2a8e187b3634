"""RFC 8343 ietf-interfaces view of the memif interfaces, so generic tools
(that know nothing of memif-agent's model) see them: name, type, oper
status, phys-address, statistics."""

from __future__ import annotations

import time

from lxml import etree

IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANA_NS = "urn:ietf:params:xml:ns:yang:iana-if-type"
Q = f"{{{IF_NS}}}"
_STARTED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def interfaces_state(state: dict) -> etree._Element:
    root = etree.Element(Q + "interfaces", nsmap={None: IF_NS, "ianaift": IANA_NS})
    for i in state.get("interfaces", ()):
        sid = i.get("socket-id", i.get("socket_id"))
        name = i.get("name") or f"memif{sid}/{i['id']}"
        el = etree.SubElement(root, Q + "interface")
        etree.SubElement(el, Q + "name").text = name
        # ip mode carries bare IP packets: no Ethernet framing.
        kind = "propVirtual" if i.get("mode") == "ip" else "ethernetCsmacd"
        etree.SubElement(el, Q + "type").text = f"ianaift:{kind}"
        # admin-status is if-feature if-mib, which the agent does not implement (nor
        # advertise); the memif model carries its own admin-status.
        etree.SubElement(el, Q + "oper-status").text = i.get("link-status", "down")
        if i.get("mac-address"):
            etree.SubElement(el, Q + "phys-address").text = i["mac-address"]
        c = i.get("counters") or {}
        stats = etree.SubElement(el, Q + "statistics")
        # Counters live as long as the interface object in the dataplane; the
        # agent start is the latest possible discontinuity.
        etree.SubElement(stats, Q + "discontinuity-time").text = _STARTED
        for leaf, key in (
            ("in-octets", "rx-bytes"),
            ("in-unicast-pkts", "rx-packets"),
            ("in-discards", "rx-drops"),
            ("in-errors", "bad-descriptors"),
            ("out-octets", "tx-bytes"),
            ("out-unicast-pkts", "tx-packets"),
            ("out-discards", "tx-drops"),
        ):
            etree.SubElement(stats, Q + leaf).text = str(c.get(key, 0))
    return root
