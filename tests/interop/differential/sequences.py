"""RPC sequences sent alike to the agent and to yuma123 netconfd.

Each sequence starts from an empty memif configuration in running and candidate
and runs its steps in order; a step is (session, operation body). Sessions are
"A" and "B", opened on first use and closed when the sequence ends; "$A" / "$B"
in a body stand for their session-ids. Only the candidate is written (netconfd
runs with --target=candidate, so it has no :writable-running).
"""

from __future__ import annotations

NS = "urn:memif-agent:yang:memif-agent"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
WD_ATTR = "urn:ietf:params:xml:ns:netconf:default:1.0"
YANG_NS = "urn:ietf:params:xml:ns:yang:1"


def edit(body: str, *params: str) -> str:
    return (
        "<edit-config><target><candidate/></target>"
        + "".join(params)
        + f'<config><memif xmlns="{NS}" xmlns:nc="{NC}">{body}</memif></config></edit-config>'
    )


def sock(sid: int, extra: str = "", attrs: str = "") -> str:
    return (
        f"<socket{attrs}><id>{sid}</id><filename>/tmp/ma-diff-{sid}.sock</filename>{extra}</socket>"
    )


def itf(sid: int, iid: int, body: str = "", attrs: str = "") -> str:
    return f"<interface{attrs}><socket-id>{sid}</socket-id><id>{iid}</id>{body}</interface>"


def get_config(source: str = "running", filt: str | None = None) -> str:
    f = filt if filt is not None else f'<filter type="subtree"><memif xmlns="{NS}"/></filter>'
    return f"<get-config><source><{source}/></source>{f}</get-config>"


COMMIT = "<commit/>"
RESET = (
    edit(
        "",
    ).replace("<memif ", '<memif nc:operation="remove" ', 1),
    COMMIT,
)

SEQUENCES: dict[str, list[tuple[str, str]]] = {
    "edit-commit-read": [
        ("A", edit(sock(1) + itf(1, 1, "<ring-size>12</ring-size>"))),
        ("A", get_config("candidate")),
        ("A", get_config("running")),
        ("A", COMMIT),
        ("A", get_config("running")),
        ("A", edit(itf(1, 1, "<ring-size>11</ring-size>"))),
        ("A", "<discard-changes/>"),
        ("A", get_config("candidate")),
    ],
    "edit-errors": [
        ("A", edit(sock(1))),
        ("A", edit(sock(1, attrs=' nc:operation="create"'))),  # data-exists
        ("A", edit(sock(9, attrs=' nc:operation="delete"'))),  # data-missing
        ("A", edit("<socket><filename>/tmp/nokey.sock</filename></socket>")),  # missing key
        ("A", edit(sock(2) + itf(2, 1, "<ring-size>99</ring-size>"))),  # out of range
        ("A", edit(sock(3, attrs=' nc:operation="frobnicate"'))),  # bad operation
        ("A", edit("<nosuch/>")),  # unknown element
        ("A", get_config("candidate")),
    ],
    "unknown-rpc-content": [
        ("A", edit(sock(1), "<test-optoin>test-only</test-optoin>")),
        ("A", get_config("candidate")),
        ("A", f'<get><fliter type="subtree"><memif xmlns="{NS}"/></fliter></get>'),
        ("A", f'<get><filter xmlns="urn:nope"><memif xmlns="{NS}"/></filter></get>'),
        ("A", "<lock><target><candidate/></target><bogus/></lock>"),
        ("B", "<lock><target><candidate/></target></lock>"),
        ("B", "<unlock><target><candidate/></target></unlock>"),
        ("A", edit(sock(2, attrs=' foo="1"'))),
        ("A", edit(sock(3, attrs=' nc:foo="1"'))),
        ("A", '<get-config foo="1"><source><running/></source></get-config>'),
        ("A", '<get-config><source><candidate foo="1"/></source></get-config>'),
        ("A", get_config("candidate")),
    ],
    "running-lock-during-confirmed-commit": [
        ("A", edit(sock(1))),
        ("A", "<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>"),
        ("B", "<lock><target><running/></target></lock>"),
        ("A", COMMIT),
        ("B", "<lock><target><running/></target></lock>"),
        ("A", "<lock><target><running/></target></lock>"),
        ("B", "<unlock><target><running/></target></unlock>"),
    ],
    "subtree-union": [
        ("A", edit(sock(1) + sock(2) + sock(3))),
        ("A", COMMIT),
        (
            "A",
            get_config(
                "running",
                f'<filter type="subtree"><memif xmlns="{NS}"><socket><id>1</id></socket></memif>'
                f'<memif xmlns="{NS}"><socket><id>2</id></socket></memif></filter>',
            ),
        ),
        (
            "A",
            get_config(
                "running",
                f'<filter type="subtree"><memif xmlns="{NS}"><socket><id>3</id><filename/>'
                "</socket></memif></filter>",
            ),
        ),
    ],
    "default-operation-none": [
        (
            "A",
            edit(
                '<socket><id>7</id><filename nc:operation="merge">/tmp/x.sock</filename></socket>',
                "<default-operation>none</default-operation>",
            ),
        ),
        ("A", get_config("candidate")),
        (
            "A",
            edit(
                sock(4, attrs=' nc:operation="create"'),
                "<default-operation>none</default-operation>",
            ),
        ),
        ("A", get_config("candidate")),
    ],
    "error-paths": [
        ("A", edit(sock(1), "<test-option>maybe</test-option>")),
        ("A", "<kill-session><session-id>99999</session-id></kill-session>"),
        ("A", "<kill-session/>"),
        ("A", "<get-config><source><nowhere/></source></get-config>"),
    ],
    "with-defaults": [
        ("A", edit(sock(1) + itf(1, 1, "<ring-size>12</ring-size>"))),
        ("A", COMMIT),
        (
            "A",
            edit(itf(1, 1, f'<ring-size xmlns:wd="{WD_ATTR}" wd:default="true">11</ring-size>')),
        ),
        (
            "A",
            edit(itf(1, 1, f'<ring-size xmlns:wd="{WD_ATTR}" wd:default="true">10</ring-size>')),
        ),
        ("A", get_config("candidate")),
        (
            "A",
            '<get-config><source><running/></source><filter type="subtree">'
            f'<memif xmlns="{NS}"><interface><ring-size/></interface></memif></filter>'
            '<with-defaults xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-with-defaults">'
            "report-all</with-defaults></get-config>",
        ),
    ],
    "xpath-context": [
        ("A", edit(sock(1) + sock(2))),
        ("A", COMMIT),
        (
            "A",
            get_config(
                "running",
                f'<filter type="xpath" xmlns:memif="{NS}" '
                'select="memif:memif/memif:socket/memif:id"/>',
            ),
        ),
        (
            "A",
            get_config(
                "running",
                f'<filter type="xpath" xmlns:memif="{NS}" '
                "select=\"/memif:memif/memif:socket[memif:id='2']\"/>",
            ),
        ),
    ],
    "when-false": [
        ("A", edit(sock(1) + itf(1, 1, "<rx-queues>2</rx-queues>"))),
        ("A", COMMIT),
        ("A", get_config("running")),
    ],
    "candidate-lock-own-changes": [
        ("A", edit(sock(1))),
        ("A", "<lock><target><candidate/></target></lock>"),
        ("B", "<lock><target><candidate/></target></lock>"),
        ("A", "<discard-changes/>"),
        ("A", "<lock><target><candidate/></target></lock>"),
        ("A", "<unlock><target><candidate/></target></unlock>"),
    ],
    "commit-under-candidate-lock": [
        ("A", "<lock><target><candidate/></target></lock>"),
        ("A", edit(sock(1))),
        ("B", COMMIT),
        ("B", get_config("running")),
        ("B", edit(sock(2))),
        ("A", COMMIT),
        ("A", "<unlock><target><candidate/></target></unlock>"),
        ("B", get_config("running")),
    ],
    "locks": [
        ("A", "<lock><target><running/></target></lock>"),
        ("B", "<lock><target><running/></target></lock>"),
        ("B", "<unlock><target><running/></target></unlock>"),
        ("A", "<unlock><target><running/></target></unlock>"),
        ("A", "<unlock><target><running/></target></unlock>"),
        ("A", "<lock><target><startup/></target></lock>"),
        ("A", "<unlock><target><startup/></target></unlock>"),
    ],
    "confirmed-commit-cancel": [
        ("A", edit(sock(1))),
        ("A", "<commit><confirmed/><confirm-timeout>60</confirm-timeout></commit>"),
        ("A", get_config("running")),
        ("A", "<cancel-commit/>"),
        ("A", get_config("running")),
        ("A", "<cancel-commit/>"),
        ("A", "<commit><confirmed/><confirm-timeout>0</confirm-timeout></commit>"),
    ],
    "startup": [
        ("A", edit(sock(1))),
        ("A", COMMIT),
        ("A", "<copy-config><target><startup/></target><source><running/></source></copy-config>"),
        ("A", get_config("startup")),
        ("A", "<delete-config><target><running/></target></delete-config>"),
        ("A", "<copy-config><target><startup/></target><source><startup/></source></copy-config>"),
    ],
    "validate": [
        ("A", edit(sock(1) + itf(1, 1))),
        ("A", "<validate><source><candidate/></source></validate>"),
        ("A", COMMIT),
        ("A", get_config("running")),
    ],
    "rpc-level": [
        ("A", '<frobnicate xmlns="urn:example:nothing"/>'),
        ("A", "<get-config/>"),
        ("A", "<get-config><source><candidate/><running/></source></get-config>"),
        (
            "A",
            '<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
            "<identifier>no-such-module</identifier></get-schema>",
        ),
        (
            "A",
            '<get-schema xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring">'
            "<identifier>memif-agent</identifier></get-schema>",
        ),
    ],
}
