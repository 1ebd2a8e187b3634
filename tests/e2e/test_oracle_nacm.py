"""RFC 8341 §3.4.5 over real SSH: a user who may not write gets replies that do
not depend on stored values (a secret's value or existence), and may not lock
the datastores or confirm/cancel another session's commit by its persist-id."""

from __future__ import annotations

import pytest
from agent_harness import Raw, arun, rpc
from lxml import etree
from ncclient.operations.rpc import RPCError

from agent.ssh.users import hash_password

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NMDA = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
DS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
SECRET = "s3cret"


@pytest.fixture
def ag(start_agent, tmp_path):
    users = tmp_path / "users"
    users.write_text(
        f"admin:{hash_password('admin')}::admin\n"
        f"ops:{hash_password('pw-ops')}::operators\n"
        f"editor:{hash_password('pw-ed')}::editors\n"
        f"alice:{hash_password('pw-alice')}::admin\n"
    )
    users.chmod(0o600)
    return start_agent(tmp_path / "a", "--no-dataplane", "--users", str(users))


def itf(iid: int, extra: str = "", op: str = "") -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    return f"<interface{attr}><socket-id>1</socket-id><id>{iid}</id>{extra}</interface>"


def memif(body: str) -> str:
    return f'<memif xmlns="{NS}">{body}</memif>'


def edit_config(target: str, body: str, *, test_only: bool = False, default: str = "") -> bytes:
    opts = "<test-option>test-only</test-option>" if test_only else ""
    if default:
        opts = f"<default-operation>{default}</default-operation>" + opts
    return (
        f"<edit-config><target><{target}/></target>{opts}<config>{body}</config></edit-config>"
    ).encode()


def edit_data(store: str, body: str) -> bytes:
    return (
        f'<edit-data xmlns="{NMDA}" xmlns:ds="{DS}"><datastore>ds:{store}</datastore>'
        f"<config>{body}</config></edit-data>"
    ).encode()


def copy_config(target: str, body: str) -> bytes:
    return (
        f"<copy-config><target><{target}/></target><source><config>{body}</config></source>"
        "</copy-config>"
    ).encode()


def secret_leaf(value: str, op: str = "") -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    return f"<secret{attr}>{value}</secret>"


SOCKET = "<socket><id>1</id><filename>/tmp/oracle-1.sock</filename></socket>"


def probes(guess: str) -> list[bytes]:
    """Requests on interface 1 whose replies must not tell whether `guess` is its
    secret, nor whether it has a secret at all."""
    iid = 1
    merge = memif(itf(iid, secret_leaf(guess)))
    same_config = memif(SOCKET + itf(1, secret_leaf(guess)) + itf(2))
    out = []
    for target in ("running", "candidate"):
        out += [
            edit_config(target, merge),
            edit_config(target, merge, test_only=True),
            edit_config(target, memif(itf(iid, secret_leaf(guess, "merge"))), default="none"),
            edit_config(target, memif(itf(iid, secret_leaf(guess), op="replace"))),
            edit_config(target, memif(itf(iid, secret_leaf(guess, "create")))),
            edit_config(target, memif(itf(iid, secret_leaf("", "remove")))),
            edit_config(target, memif(itf(iid, secret_leaf("", "delete")))),
            edit_config(target, memif(itf(iid, secret_leaf("", "remove"))), test_only=True),
            edit_data(target, merge),
            edit_data(target, memif(itf(iid, secret_leaf("", "remove")))),
            copy_config(target, same_config),
        ]
    return out


async def _replies(port: int, user: str, password: str, requests: list[bytes]) -> list[bytes]:
    s = await Raw.open(port, username=user, password=password)
    try:
        out = []
        for body in requests:
            s.send(rpc(body, 7))  # one message-id: replies compare byte for byte
            out.append(await s.read())
        return out
    finally:
        s.close()


def _setup(ag) -> None:
    admin = ag.connect()
    admin.edit_config(
        target="running",
        config=f"<config>{memif(SOCKET + itf(1, secret_leaf(SECRET)) + itf(2))}</config>",
    )


def _oracle_attempt(ag, user: str, password: str) -> None:
    """Right guess, wrong guess, and no secret at all: byte-identical replies."""
    right = arun(_replies(ag.port, user, password, probes(SECRET)))
    wrong = arun(_replies(ag.port, user, password, probes("wrong-guess")))
    admin = ag.connect()
    gone = memif(itf(1, secret_leaf("", "remove")))
    admin.edit_config(target="running", config=f"<config>{gone}</config>")
    assert "<secret>" not in admin.get_config("running").data_xml
    absent = arun(_replies(ag.port, user, password, probes(SECRET)))
    assert len(right) == len(wrong) == len(absent) == len(probes(""))
    for i, (r, w, a) in enumerate(zip(right, wrong, absent, strict=True)):
        assert r == w == a, (i, r, w, a)
        reply = etree.fromstring(r)
        assert reply.findtext(f".//{{{NC}}}error-tag") == "access-denied", (i, r)
    # and the attempts changed nothing
    data = admin.get_config("running").data_xml
    assert "<secret>" not in data and "<ring-size>" not in data


def test_read_only_user_cannot_tell_a_right_secret_guess_from_a_wrong_one(ag) -> None:
    _setup(ag)
    _oracle_attempt(ag, "ops", "pw-ops")


def test_configured_policy_writer_without_secret_access_learns_nothing(ag) -> None:
    """A user who may write interfaces but neither read nor write secrets."""
    _setup(ag)
    admin = ag.connect()
    admin.edit_config(
        target="running",
        config=f"""<config><nacm xmlns="{NACM}">
          <rule-list><name>ed</name><group>editors</group>
            <rule><name>no-secrets</name><module-name>memif-agent</module-name>
              <path xmlns:m="{NS}">/m:memif/m:interface/m:secret</path>
              <access-operations>*</access-operations><action>deny</action></rule>
            <rule><name>itf</name><module-name>memif-agent</module-name>
              <path xmlns:m="{NS}">/m:memif/m:interface</path>
              <access-operations>create update</access-operations>
              <action>permit</action></rule>
          </rule-list></nacm></config>""",
    )
    _oracle_attempt(ag, "editor", "pw-ed")
    # What the user may do still works: an interface leaf it may update.
    ed = ag.connect("editor", "pw-ed")
    ed.edit_config(
        target="running", config=f"<config>{memif(itf(2, '<ring-size>12</ring-size>'))}</config>"
    )
    data = admin.get_config("running").data_xml
    assert "<ring-size>12</ring-size>" in data


def test_read_only_user_may_not_lock_nor_confirm_or_cancel_by_persist_id(ag) -> None:
    _setup(ag)
    admin = ag.connect()
    ops = ag.connect("ops", "pw-ops")
    for target in ("running", "candidate"):
        with pytest.raises(RPCError) as exc:
            ops.lock(target)
        assert (exc.value.tag, exc.value.type) == ("access-denied", "protocol")
    # the admin's edits are not blocked by any lock of the read-only user
    admin.edit_config(target="running", config=f"<config>{memif(itf(3))}</config>")
    # startup is not a datastore the built-in policy guards with locks
    ops.lock("startup")
    ops.unlock("startup")
    admin.edit_config(target="candidate", config=f"<config>{memif(itf(4))}</config>")
    admin.commit(confirmed=True, timeout="120", persist="tok-1")
    with pytest.raises(RPCError) as exc:
        ops.commit(persist_id="tok-1")
    assert exc.value.tag == "access-denied"
    with pytest.raises(RPCError) as exc:
        ops.cancel_commit(persist_id="tok-1")
    assert exc.value.tag == "access-denied"
    # still pending: the admin can cancel it, which takes interface 4 out again
    assert "<id>4</id>" in admin.get_config("running").data_xml
    admin.cancel_commit(persist_id="tok-1")
    assert "<id>4</id>" not in admin.get_config("running").data_xml
    # the read-only user's other operations still work
    assert "oracle-1" in ops.get_config("running").data_xml
    # a writer who is not the recovery user (group admin) may lock and confirm
    alice = ag.connect("alice", "pw-alice")
    alice.lock("running")
    alice.unlock("running")
    admin.edit_config(target="candidate", config=f"<config>{memif(itf(5))}</config>")
    admin.commit(confirmed=True, timeout="120", persist="tok-2")
    alice.commit(persist_id="tok-2")
    assert "<id>5</id>" in admin.get_config("running").data_xml
