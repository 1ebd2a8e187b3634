"""What the RPC fuzzer sends and the RFC 6241 tables it judges replies by.

NETCONF and YANG namespaces; RFC 6241 appendix A (which error-types each
error-tag allows) and which operations answer with <data>, with <ok/> or write
a datastore; the get-configs pipelined after each request (PINGS); CORPUS, the
valid requests of every operation the agent serves, parsed into OPS, with the
element names (NAMES) and namespaces (NAMESPACES) mutations draw from; and the
odd values, attributes, message-ids and <rpc> attributes that mutations put in
(ODD and the hypothesis strategies VALUES, MESSAGE_IDS, ENVELOPE_ATTRS).
"""

from __future__ import annotations

from hypothesis import strategies as st
from lxml import etree

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
OR = "urn:ietf:params:xml:ns:yang:ietf-origin"
WD = "urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults"
WD_ATTR = "urn:ietf:params:xml:ns:netconf:default:1.0"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NOTIF = "urn:ietf:params:xml:ns:netconf:notification:1.0"
NCN = "urn:ietf:params:xml:ns:yang:ietf-netconf-notifications"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
YANG_MD = "urn:ietf:params:xml:ns:yang:1"

# RFC 6241 appendix A: each error-tag and the error-types it may carry.
TAG_TYPES = {
    "in-use": {"protocol", "application"},
    "invalid-value": {"protocol", "application"},
    "too-big": {"transport", "rpc", "protocol", "application"},
    "missing-attribute": {"rpc", "protocol", "application"},
    "bad-attribute": {"rpc", "protocol", "application"},
    "unknown-attribute": {"rpc", "protocol", "application"},
    "missing-element": {"protocol", "application"},
    "bad-element": {"protocol", "application"},
    "unknown-element": {"protocol", "application"},
    "unknown-namespace": {"protocol", "application"},
    "access-denied": {"protocol", "application"},
    "lock-denied": {"protocol"},
    "resource-denied": {"transport", "rpc", "protocol", "application"},
    "rollback-failed": {"protocol", "application"},
    "data-exists": {"application"},
    "data-missing": {"application"},
    "operation-not-supported": {"protocol", "application"},
    "operation-failed": {"rpc", "protocol", "application"},
    "partial-operation": {"application"},
    "malformed-message": {"rpc"},
}
ERROR_TYPES = {"transport", "rpc", "protocol", "application"}

# Operations that answer with <data>, and those that answer with <ok/>.
DATA_OPS = {f"{{{NC}}}get", f"{{{NC}}}get-config", f"{{{NMDA}}}get-data", f"{{{NCM}}}get-schema"}
OK_OPS = {
    *(
        f"{{{NC}}}{name}"
        for name in (
            "edit-config",
            "copy-config",
            "delete-config",
            "lock",
            "unlock",
            "validate",
            "commit",
            "cancel-commit",
            "discard-changes",
            "kill-session",
            "close-session",
        )
    ),
    f"{{{NMDA}}}edit-data",
    f"{{{NOTIF}}}create-subscription",
}
WRITES = {
    *(
        f"{{{NC}}}{name}"
        for name in (
            "edit-config",
            "copy-config",
            "delete-config",
            "commit",
            "cancel-commit",
            "discard-changes",
        )
    ),
    f"{{{NMDA}}}edit-data",
}
DATA_TAGS = {f"{{{NC}}}data", f"{{{NMDA}}}data", f"{{{NCM}}}data"}
DATA_ATTRS = {f"{{{WD_ATTR}}}default", f"{{{OR}}}origin"}
# The requests pipelined after each one: they read every datastore, so what a
# write left there is checked, and what a failed request changed is seen.
PINGS = [
    b"<get-config><source><%s/></source></get-config>" % ds
    for ds in (b"running", b"candidate", b"startup")
]

# -- the corpus: valid requests (operation elements, in the base namespace by default) ----

M = f'xmlns="{NS}"'
NCA = f'xmlns:nc="{NC}"'
_IF11 = (
    "<interface><socket-id>1</socket-id><id>1</id><enabled>true</enabled><role>server</role>"
    "<mode>ethernet</mode><mac-address>02:fe:00:00:00:01</mac-address><ring-size>11</ring-size>"
    "<buffer-size>4096</buffer-size><secret>s3cret</secret></interface>"
)
CORPUS = [
    "<get/>",
    f'<get><filter type="subtree"><memif {M}><interface><socket-id>1</socket-id><state/>'
    "</interface></memif></filter></get>",
    f'<get><filter type="xpath" xmlns:m="{NS}" '
    "select=\"/m:memif/m:interface[m:id='1']/m:state/m:name\"/></get>",
    f'<get><filter type="subtree"><netconf-state xmlns="{NCM}"><sessions/></netconf-state>'
    f'</filter><with-defaults xmlns="{WD}">trim</with-defaults></get>',
    "<get-config><source><running/></source></get-config>",
    f'<get-config><source><candidate/></source><filter type="subtree"><memif {M}><socket>'
    "<id>1</id><filename/></socket></memif></filter></get-config>",
    f'<get-config><source><running/></source><filter type="xpath" xmlns:m="{NS}" '
    "select=\"/m:memif/m:interface[m:socket-id='1'][m:id='1']\"/>"
    f'<with-defaults xmlns="{WD}">report-all-tagged</with-defaults></get-config>',
    f'<get-config><source><startup/></source><with-defaults xmlns="{WD}">report-all'
    "</with-defaults></get-config>",
    f"<edit-config><target><candidate/></target><config><memif {M}><socket><id>1</id>"
    f"<filename>/tmp/ma-fuzz-1.sock</filename></socket>{_IF11}</memif></config></edit-config>",
    "<edit-config><target><running/></target><default-operation>merge</default-operation>"
    "<test-option>test-then-set</test-option><error-option>rollback-on-error</error-option>"
    f"<config><memif {M} {NCA}><socket><id>2</id><filename>/tmp/ma-fuzz-2.sock</filename>"
    '</socket><interface nc:operation="replace"><socket-id>2</socket-id><id>7</id>'
    "<role>client</role><mode>ip</mode><rx-queues>2</rx-queues><tx-queues>3</tx-queues>"
    "</interface></memif></config></edit-config>",
    "<edit-config><target><running/></target><error-option>continue-on-error</error-option>"
    f'<config><memif {M} {NCA}><interface nc:operation="create"><socket-id>0</socket-id>'
    '<id>3</id><xconnect>memif0/4</xconnect></interface><interface nc:operation="create">'
    "<socket-id>0</socket-id><id>4</id><xconnect>memif0/3</xconnect></interface></memif>"
    "</config></edit-config>",
    f'<edit-config><target><running/></target><config><memif {M} {NCA}><interface nc:operation="'
    'delete"><socket-id>0</socket-id><id>3</id></interface></memif></config></edit-config>',
    f"<edit-config><target><running/></target><config><memif {M}><interface><socket-id>0"
    "</socket-id><id>4</id><xconnect>memif0/3</xconnect></interface></memif></config></edit-config>",
    "<edit-config><target><candidate/></target><default-operation>none</default-operation>"
    f'<config><memif {M} {NCA}><socket nc:operation="remove"><id>2</id></socket><interface>'
    '<socket-id>1</socket-id><id>1</id><ring-size nc:operation="delete"/>'
    '<enabled nc:operation="merge">false</enabled></interface></memif></config></edit-config>',
    "<edit-config><target><candidate/></target><test-option>test-only</test-option><config>"
    f'<memif {M} {NCA} nc:operation="replace"/></config></edit-config>',
    "<copy-config><target><candidate/></target><source><running/></source></copy-config>",
    f"<copy-config><target><startup/></target><source><config><memif {M}><socket><id>5</id>"
    "<filename>/tmp/ma-fuzz-5.sock</filename></socket></memif></config></source></copy-config>",
    "<copy-config><target><running/></target><source><startup/></source></copy-config>",
    "<delete-config><target><startup/></target></delete-config>",
    "<lock><target><running/></target></lock>",
    "<unlock><target><running/></target></unlock>",
    "<lock><target><candidate/></target></lock>",
    "<unlock><target><candidate/></target></unlock>",
    "<validate><source><candidate/></source></validate>",
    f"<validate><source><config><memif {M}><interface><socket-id>9</socket-id><id>1</id>"
    "</interface></memif></config></source></validate>",
    "<commit/>",
    "<commit><confirmed/><confirm-timeout>1</confirm-timeout></commit>",
    "<commit><confirmed/><confirm-timeout>30</confirm-timeout><persist>fuzz</persist></commit>",
    "<commit><persist-id>fuzz</persist-id></commit>",
    "<cancel-commit><persist-id>fuzz</persist-id></cancel-commit>",
    "<discard-changes/>",
    f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
    f"<subtree-filter><memif {M}><interface><id>1</id></interface></memif></subtree-filter>"
    "<max-depth>2</max-depth></get-data>",
    f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:or="{OR}"><datastore>ds:operational'
    "</datastore><config-filter>false</config-filter><with-origin/>"
    "<origin-filter>or:intended</origin-filter></get-data>",
    f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:m="{NS}"><datastore>ds:candidate</datastore>'
    "<xpath-filter>/m:memif/m:socket</xpath-filter><with-defaults>report-all</with-defaults>"
    "</get-data>",
    f'<get-data xmlns="{NMDA}" xmlns:ds="{DS}" xmlns:or="{OR}"><datastore>ds:operational'
    "</datastore><negated-origin-filter>or:default</negated-origin-filter>"
    "<max-depth>unbounded</max-depth></get-data>",
    f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:running</datastore>'
    f"<default-operation>merge</default-operation><config><memif {M} {NCA}>"
    '<interface nc:operation="merge"><socket-id>0</socket-id><id>8</id><enabled>true</enabled>'
    "</interface></memif></config></edit-data>",
    f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:candidate</datastore><config>'
    f'<memif {M} {NCA}><interface nc:operation="remove"><socket-id>0</socket-id><id>8</id>'
    "</interface></memif></config></edit-data>",
    "<kill-session><session-id>4000000</session-id></kill-session>",
    f'<get-schema xmlns="{NCM}"><identifier>memif-agent</identifier><version>2026-11-25'
    "</version><format>yang</format></get-schema>",
    f'<get-schema xmlns="{NCM}"><identifier>ietf-netconf</identifier><format>yin</format>'
    "</get-schema>",
    f'<create-subscription xmlns="{NOTIF}"><stream>NETCONF</stream><filter type="subtree">'
    f'<netconf-config-change xmlns="{NCN}"/></filter></create-subscription>',
    f'<create-subscription xmlns="{NOTIF}" xmlns:ncn="{NCN}"><filter type="xpath" '
    "select=\"/ncn:netconf-session-start[ncn:username='admin']\"/></create-subscription>",
]
OPS = [etree.fromstring(f'<rpc xmlns="{NC}">{body}</rpc>')[0] for body in CORPUS]
NAMES = sorted(
    {etree.QName(e).localname for op in OPS for e in op.iter(etree.Element)}
    | {"nacm", "rule", "url", "foo", "rpc", "rpc-reply", "hello", "close-session", "data"}
)
NAMESPACES = sorted({etree.QName(e).namespace for op in OPS for e in op.iter(etree.Element)}) + [
    NACM,
    WD_ATTR,
    "urn:example:bogus",
    "http://www.w3.org/XML/1998/namespace",
]

ODD = [
    *("", " ", "\t\n ", "0", "-1", "1", "+1", "007", " 7 ", "-0", "1.5", "1e3", "0x10", "NaN"),
    *("4294967294", "4294967295", "4294967296", "18446744073709551615", "18446744073709551616"),
    *("9" * 40, "9" * 400, "9" * 5000, "x" * 70000, "²", "٣", "１", "𝟗", "Ⅻ", "½"),
    *("true", "false", "TRUE", "unbounded", "running", "candidate", "startup"),
    *("ds:running", "ds:operational", "ds:intended", "ds:nowhere", "x:running", ":running"),
    *("or:intended", "or:learned", "or:system", "or:nope"),
    *("/", "//", "../..", ".", "*", "//*", "count(//*)", "string(/)", "/m:memif/..", "[", "]"),
    *("/x:undeclared", "1 div 0", "//@*", "//text()", "namespace::*", "//comment()", "$v"),
    *("/m:memif/m:interface[1]", "//*[local-name()='secret']", "/nacm:nacm", "sum(//m:id)"),
    *("/m:memif | /m:memif", "id('x')", "/*/*/*/*/*/*/*/*", "//m:interface[m:id=//m:id]"),
    *("'", '"', "&", "<>", "]]>]]>", "\n##\n", "\n#5\n", "&amp;", "&#0;"),
    *("memif0/0", "memif4294967295/4294967295", "memif1/1", "memif01/1", "memif/"),
    *("memif" + "9" * 5000 + "/1", "memif1/" + "1" * 400),
    *("02:FE:00:00:00:01", "ff:ff:ff:ff:ff:ff", "02:fe:00:00:00:0g", "/tmp/" + "x" * 102),
    *("/tmp/" + "y" * 103, "/tmp/é" + "é" * 60, "/", "/tmp/ma-fuzz-1.sock"),
    *("é", "☃", "𝄞", "\u202e", "\u00a0", "\u200b", "ﬀ"),
    *("merge", "replace", "create", "delete", "remove", "none", "MERGE", "merge "),
    *("test-only", "set", "continue-on-error", "stop-on-error", "rollback-on-error"),
    *("report-all", "report-all-tagged", "trim", "explicit"),
    *("yang", "yin", "ncm:yang", "xsd", "memif-agent", "ietf-netconf", "yang", "../memif-agent"),
    *("NETCONF", "2026-11-25", "1970-01-01T00:00:00Z", "9999-99-99T99:99:99Z"),
    *("client", "server", "ip", "punt-inject", "subtree", "xpath", "xpath "),
]
# XML 1.0 characters (no C0 controls but tab/newline, no surrogates, no U+FFFE/U+FFFF).
XML_CHARS = st.characters(
    blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"
) | st.sampled_from("\t\n")
VALUES = st.one_of(
    st.sampled_from(ODD),
    st.text(XML_CHARS, max_size=30),
    st.integers(-(2**70), 2**70).map(str),
)
ATTRS = [
    f"{{{NC}}}operation",
    "operation",
    f"{{{NS}}}operation",
    "type",
    "select",
    "foo",
    "message-id",
    f"{{{WD_ATTR}}}default",
    f"{{{YANG_MD}}}insert",
    f"{{{YANG_MD}}}key",
    "{urn:example:bogus}attr",
    "{http://www.w3.org/XML/1998/namespace}lang",
]
OPERATIONS = ["merge", "replace", "create", "delete", "remove", "none", "bogus", ""]
MESSAGE_IDS = st.one_of(
    st.integers(1, 2**31).map(str),
    st.sampled_from(["", " ", '"q"', "<&>", "a\tb\nc", "é☃", "]]>]]>", "\n##\n", "x" * 300]),
    st.text(XML_CHARS, max_size=12),
)
# Extra <rpc> attributes, which the reply must carry back unchanged (RFC 6241 4.2).
ENVELOPE_ATTRS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "foo",
                "lang",
                "{urn:example:trace}id",
                "{urn:x:a}b",
                f"{{{NC}}}attr",
                "{http://www.w3.org/XML/1998/namespace}lang",
            ]
        ),
        VALUES,
    ),
    max_size=2,
)
