"""Instance-data tests for every rule of the memif model (design §3): a valid
document per feature, an invalid one per rule with its tag, path and message."""

from __future__ import annotations

import pytest
from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.memif.config import MemifConfig
from agent.yangdata.validate import validate_config

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
IF1 = "/memif:memif/memif:interface[memif:socket-id='1'][memif:id='1']"


def cfg(body: str) -> etree._Element:
    return etree.fromstring(f'<config xmlns="{NC}"><memif xmlns="{NS}">{body}</memif></config>')


def sock(sid: int | str, fname: str | None = "/tmp/m1.sock") -> str:
    f = f"<filename>{fname}</filename>" if fname is not None else ""
    return f"<socket><id>{sid}</id>{f}</socket>"


def itf(sid: int | str = 1, iid: int | str = 1, **leaves: str) -> str:
    body = "".join(f"<{k.replace('_', '-')}>{v}</{k.replace('_', '-')}>" for k, v in leaves.items())
    return f"<interface><socket-id>{sid}</socket-id><id>{iid}</id>{body}</interface>"


def errors_of(body: str, old: str | None = None) -> list[RpcError]:
    with pytest.raises(RpcErrors) as exc:
        validate_config(cfg(body), old=cfg(old) if old is not None else None)
    return exc.value.errors


def one_error(body: str, old: str | None = None) -> RpcError:
    errs = errors_of(body, old)
    assert len(errs) == 1, errs
    return errs[0]


# --- valid documents, one per feature -------------------------------------------------------

VALID = {
    "empty": "",
    "socket only": sock(1),
    "server defaults": sock(1) + itf(),
    "server full": sock(1)
    + itf(
        enabled="true",
        role="server",
        mode="ethernet",
        mac_address="02:fe:00:00:00:01",
        ring_size="14",
        buffer_size="9216",
        secret="s3cr3t!~",
    ),
    "client with queues": sock(1) + itf(role="client", rx_queues="4", tx_queues="255"),
    "ip mode": sock(1) + itf(mode="ip"),
    "socket 0 interface": itf(0, 5),
    "two ids share a socket": sock(1) + itf(1, 1) + itf(1, 2),
    "ring-size bounds": sock(1) + itf(1, 1, ring_size="8") + itf(1, 2, ring_size="32"),
    "max socket id": sock(4294967294) + itf(4294967294, 4294967295),
    "xconnect one way": sock(1) + itf(1, 1, xconnect="memif1/2") + itf(1, 2),
    "xconnect both ways": sock(1) + itf(1, 1, xconnect="memif1/2") + itf(1, 2, xconnect="memif1/1"),
    "secret 23 chars": sock(1) + itf(secret="x" * 23),
}


@pytest.mark.parametrize("body", VALID.values(), ids=VALID.keys())
def test_valid_documents_pass(body: str) -> None:
    parsed = validate_config(cfg(body))
    assert len(parsed.interfaces) == body.count("<interface>")


def test_defaults_in_typed_view() -> None:
    c = validate_config(cfg(sock(1) + itf()))
    i = c.interfaces[(1, 1)]
    assert (i.enabled, i.role, i.mode, i.ring_size, i.buffer_size, i.rx_queues) == (
        False,
        "server",
        "ethernet",
        10,
        2048,
        1,
    )
    assert i.name == "memif1/1" and c.sockets == {1: "/tmp/m1.sock"}


# --- one invalid document per rule ------------------------------------------------------------


def test_socket_zero_is_locked() -> None:
    e = one_error(sock(0, "/x/y.sock"))
    assert (e.tag, e.path, e.app_tag) == (
        "invalid-value",
        "/memif:memif/memif:socket[memif:id='0']",
        "builtin-socket",
    )
    assert "socket 0 is built in" in e.message


@pytest.mark.parametrize("sid", ["4294967295", "-1", "abc", "0x1"])
def test_socket_id_range(sid: str) -> None:
    e = one_error(sock(sid))
    assert e.tag == "invalid-value" and e.path == "/memif:memif/memif:socket/memif:id"
    assert "from 0 to 4294967294" in e.message


@pytest.mark.parametrize("fname", ["relative.sock", "/", "/" + "a" * 107])
def test_filename_absolute_and_bounded(fname: str) -> None:
    e = one_error(sock(1, fname))
    assert e.path == "/memif:memif/memif:socket[memif:id='1']/memif:filename"
    assert "absolute path" in e.message


def test_filename_mandatory() -> None:
    e = one_error(sock(1, None))
    assert e.tag == "data-missing" and "needs a filename" in e.message


def test_filename_unique() -> None:
    e = one_error(sock(1, "/tmp/a.sock") + sock(2, "/tmp/a.sock"))
    assert e.app_tag == "data-not-unique"
    assert e.path == "/memif:memif/memif:socket[memif:id='2']/memif:filename"
    assert "already used by socket 1" in e.message


def test_filename_may_not_take_socket0_path() -> None:
    e = one_error(sock(1, "/run/vpp/memif.sock"))
    assert "already used by socket 0" in e.message


def test_one_role_per_socket() -> None:
    e = one_error(sock(1) + itf(1, 1, role="server") + itf(1, 2, role="client"))
    assert e.app_tag == "socket-role-conflict"
    assert e.path == "/memif:memif/memif:interface[memif:socket-id='1'][memif:id='2']/memif:role"
    assert "same role" in e.message


def test_interface_without_socket() -> None:
    e = one_error(itf(7, 1))
    assert (e.tag, e.app_tag) == ("data-missing", "instance-required")
    assert e.path.endswith("[memif:socket-id='7'][memif:id='1']/memif:socket-id")
    assert "socket 7 does not exist" in e.message


def test_socket_in_use_cannot_be_deleted() -> None:
    e = one_error(itf(1, 1), old=sock(1) + itf(1, 1))
    assert e.tag == "in-use" and e.path == "/memif:memif/memif:socket[memif:id='1']"
    assert "in use by memif1/1" in e.message


def test_socket_in_use_cannot_change_filename() -> None:
    e = one_error(sock(1, "/tmp/new.sock") + itf(), old=sock(1, "/tmp/old.sock") + itf())
    assert e.tag == "in-use" and e.path.endswith("/memif:filename")


def test_unused_socket_may_change_filename() -> None:
    validate_config(cfg(sock(1, "/tmp/new.sock")), old=cfg(sock(1, "/tmp/old.sock")))


@pytest.mark.parametrize("leaf", ["rx_queues", "tx_queues"])
def test_queues_only_for_client(leaf: str) -> None:
    e = one_error(sock(1) + itf(**{leaf: "2"}))
    assert e.path == f"{IF1}/memif:{leaf.replace('_', '-')}"
    assert "only be set with role client" in e.message


@pytest.mark.parametrize("n", ["0", "256"])
def test_queue_range(n: str) -> None:
    e = one_error(sock(1) + itf(role="client", rx_queues=n))
    assert "from 1 to 255" in e.message


def test_mac_only_for_ethernet() -> None:
    e = one_error(sock(1) + itf(mode="ip", mac_address="02:fe:00:00:00:01"))
    assert e.path == f"{IF1}/memif:mac-address" and "only be set in ethernet mode" in e.message


def test_mac_format() -> None:
    e = one_error(sock(1) + itf(mac_address="02:fe:00:00:00"))
    assert e.tag == "invalid-value" and "must look like" in e.message


@pytest.mark.parametrize("size", ["7", "33", "x"])
def test_ring_size_range(size: str) -> None:
    e = one_error(sock(1) + itf(ring_size=size))
    assert e.path == f"{IF1}/memif:ring-size" and "from 8 to 32" in e.message


@pytest.mark.parametrize("size", ["63", "65536"])
def test_buffer_size_range(size: str) -> None:
    e = one_error(sock(1) + itf(buffer_size=size))
    assert "from 64 to 65535" in e.message


@pytest.mark.parametrize("secret", ["x" * 24, "has space", "tab\tx", "é"])
def test_secret_length_and_characters(secret: str) -> None:
    e = one_error(sock(1) + itf(secret=secret))
    assert e.path == f"{IF1}/memif:secret" and "1 to 23 printable" in e.message


def test_punt_inject_not_implemented() -> None:
    e = one_error(sock(1) + itf(mode="punt-inject"))
    assert e.tag == "operation-not-supported" and "not implemented" in e.message


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (sock(1) + itf(xconnect="memif1/9"), "does not exist"),
        # found by tests/fuzz/test_rpc_fuzz.py: 4,301 digits broke int() (an internal error)
        (sock(1) + itf(xconnect="memif" + "9" * 4301 + "/1"), "does not exist"),
        (sock(1) + itf(xconnect="memif1/4294967296"), "does not exist"),
        (sock(1) + itf(xconnect="memif1/1"), "itself"),
        (sock(1) + itf(xconnect="eth0"), "memif<socket>/<id>"),
        (
            sock(1) + itf(1, 1, xconnect="memif1/3") + itf(1, 2, xconnect="memif1/3") + itf(1, 3),
            "already the xconnect target",
        ),
    ],
)
def test_xconnect_rules(body: str, text: str) -> None:
    assert any(text in e.message for e in errors_of(body))


def test_unknown_leaf_and_state_are_refused() -> None:
    e = one_error(
        sock(1) + "<interface><socket-id>1</socket-id><id>1</id><speed>1</speed></interface>"
    )
    assert e.tag == "unknown-element" and e.info == [("bad-element", "speed")]
    e = one_error(sock(1) + itf(state="<link-status>up</link-status>"))
    assert "read-only" in e.message


def test_libyang_is_the_last_word() -> None:
    """A module the typed parse does not know is still checked by libyang."""
    doc = etree.fromstring(
        f'<config xmlns="{NC}"><nacm xmlns="urn:ietf:params:xml:ns:yang:ietf-netconf-acm">'
        "<enable-nacm>maybe</enable-nacm></nacm></config>"
    )
    with pytest.raises(RpcErrors) as exc:
        validate_config(doc)
    assert exc.value.errors[0].tag == "invalid-value"


def test_all_errors_reported_at_once() -> None:
    errs = errors_of(sock(1) + itf(1, 1, ring_size="99") + itf(1, 2, secret="a b"))
    assert {e.path.rsplit("/", 1)[1] for e in errs} == {"memif:ring-size", "memif:secret"}


def test_typed_view_of_no_memif() -> None:
    assert MemifConfig.from_config(etree.fromstring(f'<config xmlns="{NC}"/>')).interfaces == {}
