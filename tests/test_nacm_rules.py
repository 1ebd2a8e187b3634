"""NACM decisions (RFC 8341 §3.4.5), pure."""

from lxml import etree

from agent.nacm_rules import NACM_NS, builtin_policy, path_names, policy_from

NS = "urn:memif-agent:yang:memif-agent"


def pol(body: str):
    return policy_from(
        etree.fromstring(
            f'<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><nacm xmlns="{NACM_NS}">'
            f"{body}</nacm></config>"
        )
    )


def test_path_names() -> None:
    assert path_names("/m:memif/m:interface[m:id='1']/m:secret") == ("memif", "interface", "secret")
    assert path_names("/") == ()
    assert path_names("/a[") is None


def test_builtin_policy() -> None:
    p = builtin_policy()
    admin, other = {"admin"}, {"operators"}
    assert p.rpc_allowed(other, "ietf-netconf", "get")
    assert not p.rpc_allowed(other, "ietf-netconf", "kill-session")
    assert p.rpc_allowed(other, "ietf-netconf", "close-session")
    w_other, w_admin = p.data_rules(other, "create"), p.data_rules(admin, "create")
    assert not p.node_allowed(w_other, "memif-agent", ("memif", "socket"), "create")
    assert p.node_allowed(w_admin, "memif-agent", ("memif", "socket"), "create")
    r = p.data_rules(other, "read")
    assert p.node_allowed(r, "memif-agent", ("memif", "interface", "id"), "read")
    assert not p.node_allowed(r, "memif-agent", ("memif", "interface", "secret"), "read")
    assert not p.node_allowed(r, "ietf-netconf-acm", ("nacm", "groups"), "read")


def test_first_matching_rule_wins_and_groups() -> None:
    p = pol(
        "<read-default>deny</read-default>"
        "<groups><group><name>g</name><user-name>bob</user-name></group></groups>"
        "<rule-list><name>a</name><group>g</group>"
        f'<rule><name>r1</name><path xmlns:m="{NS}">/m:memif/m:socket</path>'
        "<access-operations>read</access-operations><action>permit</action></rule>"
        "<rule><name>r2</name><module-name>memif-agent</module-name>"
        "<access-operations>*</access-operations><action>deny</action></rule>"
        "</rule-list>"
    )
    assert p is not None and p.user_groups("bob") == {"g"}
    assert p.user_groups("eve", ("x",)) == {"x"}
    rules = p.data_rules({"g"}, "read")
    assert p.node_allowed(rules, "memif-agent", ("memif", "socket", "id"), "read")
    assert not p.node_allowed(rules, "memif-agent", ("memif", "interface"), "read")
    assert not p.node_allowed(p.data_rules({"h"}, "read"), "memif-agent", ("memif",), "read")


def test_disabled_and_absent() -> None:
    assert pol("<enable-nacm>false</enable-nacm>").enabled is False
    assert (
        policy_from(etree.fromstring('<config xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"/>'))
        is None
    )
