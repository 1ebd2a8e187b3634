"""RFC 8341 access control end to end: users from the users file, ncclient
over SSH, the agent's built-in policy and a configured /nacm."""

from __future__ import annotations

import pytest
from ncclient.operations.rpc import RPCError

from agent.ssh.users import hash_password

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"
NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"


@pytest.fixture
def ag(start_agent, tmp_path):
    users = tmp_path / "users"
    users.write_text(
        f"admin:{hash_password('admin')}::admin\n"
        f"alice:{hash_password('pw-alice')}::admin\n"
        f"ops:{hash_password('pw-ops')}::operators\n"
    )
    users.chmod(0o600)
    return start_agent(tmp_path / "a", "--no-dataplane", "--users", str(users))


def memif(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


SECRET_ITF = (
    "<socket><id>1</id><filename>/tmp/nacm-1.sock</filename></socket>"
    "<interface><socket-id>1</socket-id><id>1</id><secret>s3cret</secret></interface>"
)


def test_read_only_user_cannot_edit_commit_or_read_secrets(ag) -> None:
    admin = ag.connect()
    admin.edit_config(target="running", config=memif(SECRET_ITF))
    ops = ag.connect("ops", "pw-ops")
    data = ops.get_config("running").data_xml
    assert "<filename>/tmp/nacm-1.sock</filename>" in data  # reads are permitted
    assert "secret" not in data  # but the secret is default-deny-all
    assert "s3cret" in admin.get_config("running").data_xml
    with pytest.raises(RPCError) as exc:
        ops.edit_config(
            target="candidate", config=memif("<socket><id>2</id><filename>/x/y</filename></socket>")
        )
    e = exc.value
    assert (e.tag, e.type) == ("access-denied", "application")
    assert e.path.strip() == "/memif-agent:memif/memif-agent:socket[memif-agent:id='2']"
    # an admin's uncommitted change cannot be committed by the read-only user
    admin.edit_config(
        target="candidate", config=memif("<socket><id>3</id><filename>/x/z</filename></socket>")
    )
    with pytest.raises(RPCError) as exc:
        ops.commit()
    assert exc.value.tag == "access-denied"
    assert "/x/z" not in admin.get_config("running").data_xml
    # kill-session is default-deny-all
    with pytest.raises(RPCError) as exc:
        ops.kill_session(admin.session_id)
    assert (exc.value.tag, exc.value.type) == ("access-denied", "protocol")
    # the session stays usable
    assert "nacm-1" in ops.get_config("running").data_xml
    # a second admin-group user (not the recovery user) may write
    alice = ag.connect("alice", "pw-alice")
    alice.edit_config(
        target="running", config=memif("<socket><id>4</id><filename>/x/w</filename></socket>")
    )


def test_configured_nacm_rules(ag) -> None:
    admin = ag.connect()
    admin.edit_config(target="running", config=memif(SECRET_ITF))
    nacm = f"""<config><nacm xmlns="{NACM}">
      <rule-list><name>ops</name><group>operators</group>
        <rule><name>see-secrets</name><module-name>memif-agent</module-name>
          <path xmlns:m="{NS}">/m:memif/m:interface/m:secret</path>
          <access-operations>read</access-operations><action>permit</action></rule>
        <rule><name>edit-interfaces</name><module-name>memif-agent</module-name>
          <path xmlns:m="{NS}">/m:memif/m:interface</path>
          <access-operations>create update delete</access-operations><action>permit</action></rule>
        <rule><name>no-get</name><rpc-name>get</rpc-name>
          <access-operations>exec</access-operations><action>deny</action></rule>
      </rule-list></nacm></config>"""
    admin.edit_config(target="running", config=nacm)
    ops = ag.connect("ops", "pw-ops")
    assert "s3cret" in ops.get_config("running").data_xml
    assert "rule-list" not in ops.get_config("running").data_xml  # /nacm stays hidden
    ops.edit_config(
        target="running",
        config=memif("<interface><socket-id>1</socket-id><id>2</id></interface>"),
    )
    with pytest.raises(RPCError) as exc:
        ops.edit_config(
            target="running", config=memif("<socket><id>9</id><filename>/q</filename></socket>")
        )
    assert exc.value.tag == "access-denied"
    with pytest.raises(RPCError) as exc:
        ops.get()
    assert exc.value.tag == "access-denied"
    # writes to NACM itself are denied by default
    with pytest.raises(RPCError) as exc:
        ops.edit_config(
            target="running",
            config=f'<config><nacm xmlns="{NACM}"><enable-nacm>false</enable-nacm></nacm></config>',
        )
    assert exc.value.tag == "access-denied"
    counters = admin.get(filter=("subtree", f'<nacm xmlns="{NACM}"/>')).data_xml
    assert "<denied-operations>1</denied-operations>" in counters
    assert "<denied-data-writes>2</denied-data-writes>" in counters


def test_rule_scoped_to_one_interface_by_key_predicates(ag) -> None:
    admin = ag.connect()
    admin.edit_config(
        target="running",
        config=memif(SECRET_ITF + "<interface><socket-id>1</socket-id><id>2</id></interface>"),
    )
    nacm = f"""<config><nacm xmlns="{NACM}">
      <rule-list><name>ops</name><group>operators</group>
        <rule><name>only-memif1-2</name><module-name>memif-agent</module-name>
          <path xmlns:m="{NS}">/m:memif/m:interface[m:socket-id='1'][m:id='2']</path>
          <access-operations>update</access-operations><action>permit</action></rule>
        <rule><name>hide-memif1-2</name><module-name>memif-agent</module-name>
          <path xmlns:m="{NS}">/m:memif/m:interface[m:socket-id='1'][m:id='2']/m:ring-size</path>
          <access-operations>read</access-operations><action>deny</action></rule>
      </rule-list></nacm></config>"""
    admin.edit_config(target="running", config=nacm)
    ops = ag.connect("ops", "pw-ops")

    def ring(iid: int, size: int) -> str:
        return memif(
            f"<interface><socket-id>1</socket-id><id>{iid}</id><ring-size>{size}</ring-size>"
            "</interface>"
        )

    admin.edit_config(target="running", config=ring(1, 11))
    admin.edit_config(target="running", config=ring(2, 11))
    ops.edit_config(target="running", config=ring(2, 12))  # the permitted entry
    with pytest.raises(RPCError) as exc:
        ops.edit_config(target="running", config=ring(1, 12))  # its sibling
    assert exc.value.tag == "access-denied"
    assert "[memif-agent:id='1']" in exc.value.path
    data = ops.get_config("running").data_xml
    # ring-size of memif1/2 is hidden from ops, that of memif1/1 is not
    assert data.count("<ring-size>") == 1 and "<ring-size>11</ring-size>" in data
    assert admin.get_config("running").data_xml.count("<ring-size>") == 2


def test_nmda_operations_obey_nacm(ag) -> None:
    from ncclient.xml_ import to_ele

    nmda = "urn:ietf:params:xml:ns:yang:ietf-netconf-nmda"
    ds = "urn:ietf:params:xml:ns:yang:ietf-datastores"
    admin = ag.connect()
    admin.edit_config(target="running", config=memif(SECRET_ITF))
    ops = ag.connect("ops", "pw-ops")
    for store in ("running", "operational"):
        req = (
            f'<get-data xmlns="{nmda}" xmlns:ds="{ds}"><datastore>ds:{store}</datastore></get-data>'
        )
        data = ops.dispatch(to_ele(req)).xml
        assert "/tmp/nacm-1.sock" in data and "s3cret" not in data, store
        assert "s3cret" in admin.dispatch(to_ele(req)).xml
    edit = (
        f'<edit-data xmlns="{nmda}" xmlns:ds="{ds}"><datastore>ds:running</datastore><config>'
        f'<memif xmlns="{NS}"><socket><id>5</id><filename>/x/v</filename></socket></memif>'
        "</config></edit-data>"
    )
    with pytest.raises(RPCError) as exc:
        ops.dispatch(to_ele(edit))
    assert exc.value.tag == "access-denied"
    assert "/x/v" not in admin.get_config("running").data_xml
