"""NACM decisions (RFC 8341 §3.4.5), pure."""

from lxml import etree

from agent.nacm.rules import NACM_NS, builtin_policy, parse_path, path_names, policy_from

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


def test_parse_path_predicates() -> None:
    assert parse_path("/m:memif/m:interface[m:socket-id='1'][m:id=\"2\"]/m:mtu") == (
        ("memif", "interface", "mtu"),
        ((), (("socket-id", "1"), ("id", "2")), ()),
    )
    # quoted values may hold / and ]; leaf-list entries are [.='v']
    assert parse_path("/a:l[a:k='x/y]z']/a:v[.='1']") == (
        ("l", "v"),
        ((("k", "x/y]z"),), ((".", "1"),)),
    )
    # positions and functions are not understood: the rule will match nothing
    assert parse_path("/m:memif/m:interface[1]") is None
    assert parse_path("/m:memif/m:interface[count(.)=1]") is None
    assert parse_path("memif") is None


def test_predicates_scope_a_rule_to_one_entry() -> None:
    p = pol(
        "<groups><group><name>g</name><user-name>bob</user-name></group></groups>"
        "<rule-list><name>a</name><group>g</group>"
        f'<rule><name>one</name><path xmlns:m="{NS}">'
        "/m:memif/m:interface[m:socket-id='1'][m:id='2']</path>"
        "<access-operations>update</access-operations><action>permit</action></rule>"
        f'<rule><name>no-secret-of-7</name><path xmlns:m="{NS}">'
        "/m:memif/m:interface[m:id='7']/m:secret</path>"
        "<access-operations>read</access-operations><action>deny</action></rule>"
        "</rule-list>"
    )
    up = p.data_rules({"g"}, "update")
    path = ("memif", "interface", "ring-size")
    k12 = ((), (("socket-id", "1"), ("id", "2")), ())
    k13 = ((), (("socket-id", "1"), ("id", "3")), ())
    assert p.node_allowed(up, "memif-agent", path, "update", k12)
    assert not p.node_allowed(up, "memif-agent", path, "update", k13)  # write-default deny
    assert not p.node_allowed(up, "memif-agent", path, "update")  # keys unknown: no match
    rd = p.data_rules({"g"}, "read")
    spath = ("memif", "interface", "secret")
    # secret is default-deny-all; the deny rule for id 7 changes nothing there, and
    # other leaves of entry 7 stay readable (read-default permit)
    k7 = ((), (("socket-id", "1"), ("id", "7")), ())
    assert not p.node_allowed(rd, "memif-agent", spath, "read", k7)
    assert p.node_allowed(rd, "memif-agent", ("memif", "interface", "id"), "read", k7)


def test_rule_with_a_path_not_understood_is_skipped_and_named() -> None:
    p = pol(
        "<rule-list><name>a</name><group>g</group>"
        f'<rule><name>pos</name><path xmlns:m="{NS}">/m:memif/m:interface[1]</path>'
        "<action>permit</action></rule></rule-list>"
    )
    assert p.rule_lists[0].rules == []
    assert p.skipped == ["a/pos: /m:memif/m:interface[1]"]


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
