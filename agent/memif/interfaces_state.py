"""RFC 8343 ietf-interfaces view of the memif interfaces, so generic tools
(that know nothing of memif-agent's model) see them: name, type, oper
status, phys-address, statistics.

Written as XML text and parsed once, as agent.state_memif does, for the same
reason (one lxml element per counter is what made <get> slow)."""

from __future__ import annotations

import time

from lxml import etree

from agent.memif.state import state_parser, text_markup

IF_NS = "urn:ietf:params:xml:ns:yang:ietf-interfaces"
IANA_NS = "urn:ietf:params:xml:ns:yang:iana-if-type"
Q = f"{{{IF_NS}}}"
_STARTED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
_STATISTICS = (
    ("in-octets", "rx-bytes"),
    ("in-unicast-pkts", "rx-packets"),
    ("in-discards", "rx-drops"),
    ("in-errors", "bad-descriptors"),
    ("out-octets", "tx-bytes"),
    ("out-unicast-pkts", "tx-packets"),
    ("out-discards", "tx-drops"),
)


def interfaces_state_text(state: dict) -> str:
    """The <interfaces> element as XML text (see interfaces_state)."""
    out = [f'<interfaces xmlns="{IF_NS}" xmlns:ianaift="{IANA_NS}">']
    add = out.append
    for i in state.get("interfaces", ()):
        sid = i.get("socket-id", i.get("socket_id"))
        name = i.get("name") or f"memif{sid}/{i['id']}"
        # ip mode carries bare IP packets: no Ethernet framing.
        kind = "propVirtual" if i.get("mode") == "ip" else "ethernetCsmacd"
        # admin-status is if-feature if-mib, which the agent does not implement (nor
        # advertise); the memif model carries its own admin-status.
        add(
            f"<interface><name>{text_markup(name)}</name><type>ianaift:{kind}</type>"
            f"<oper-status>{text_markup(i.get('link-status', 'down'))}</oper-status>"
        )
        if i.get("mac-address"):
            add(f"<phys-address>{text_markup(i['mac-address'])}</phys-address>")
        c = i.get("counters") or {}
        # Counters live as long as the interface object in the dataplane; the
        # agent start is the latest possible discontinuity.
        add(f"<statistics><discontinuity-time>{_STARTED}</discontinuity-time>")
        for leaf, key in _STATISTICS:
            add(f"<{leaf}>{text_markup(c.get(key, 0))}</{leaf}>")
        add("</statistics></interface>")
    add("</interfaces>")
    return "".join(out)


def interfaces_state(state: dict) -> etree._Element:
    return etree.fromstring(interfaces_state_text(state), state_parser())
