"""RFC 8341 access decisions, pure: NACM configuration in, permit/deny out.

Data-node rule paths are compared step by step by node name (prefixes are not
compared: names are unique per module here) and by key predicates: a rule on
/memif:memif/memif:interface covers every interface entry and everything under
it, one on /memif:memif/memif:interface[memif:socket-id='1'][memif:id='2'] only
memif1/2. A path with a predicate other than [key='value'] or [.='value']
(a position, a function) is not understood, and its rule matches nothing.
Rules are taken in rule-list order, first match wins
(RFC 8341 §3.4.5); with no match, default-deny-all nodes are denied and the
read/write/exec defaults decide the rest.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

NACM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
Q = f"{{{NACM_NS}}}"
OPS = ("create", "read", "update", "delete", "exec")

# Nodes and operations marked nacm:default-deny-all in the served modules:
# the nacm container itself (ietf-netconf-acm), our memif secret leaf, and the
# protocol operations RFC 8341 §3.2 names (kill-session, delete-config).
DENY_ALL_PATHS = (("nacm",), ("memif", "interface", "secret"))
DENY_ALL_RPCS = frozenset({"kill-session", "delete-config"})
ALWAYS_RPCS = frozenset({"close-session"})


@dataclass
class Rule:
    name: str
    module: str = "*"
    rpc: str | None = None
    notification: str | None = None
    path: tuple[str, ...] | None = None
    # Per step of `path`: the (key, value) pairs its predicates require.
    preds: tuple[tuple[tuple[str, str], ...], ...] = ()
    ops: frozenset[str] = frozenset(OPS)
    permit: bool = False


@dataclass
class RuleList:
    name: str
    groups: tuple[str, ...]
    rules: list[Rule] = field(default_factory=list)


@dataclass
class Policy:
    enabled: bool = True
    read_default: bool = True
    write_default: bool = False
    exec_default: bool = True
    external_groups: bool = True
    groups: dict[str, set[str]] = field(default_factory=dict)  # group -> users
    rule_lists: list[RuleList] = field(default_factory=list)
    # "rule-list/rule: path" of rules left out because their path is not understood.
    skipped: list[str] = field(default_factory=list)
    # The agent's own policy (running holds no /nacm), not one an operator wrote.
    builtin: bool = False

    # -- decisions --------------------------------------------------------------------------

    def user_groups(self, user: str, external: tuple[str, ...] = ()) -> set[str]:
        mine = {g for g, users in self.groups.items() if user in users}
        if self.external_groups:
            mine |= set(external)
        return mine

    def _rules(self, groups: set[str]):
        for rl in self.rule_lists:
            if "*" in rl.groups or groups & set(rl.groups):
                yield from rl.rules

    def rpc_allowed(self, groups: set[str], module: str, name: str) -> bool:
        if not self.enabled or name in ALWAYS_RPCS:
            return True
        for r in self._rules(groups):
            if "exec" not in r.ops or r.module not in ("*", module):
                continue
            if r.path is not None or r.notification is not None:
                continue
            if r.rpc in (None, "*", name):
                return r.permit
        if name in DENY_ALL_RPCS:
            return False
        return self.exec_default

    def notification_allowed(self, groups: set[str], module: str, name: str) -> bool:
        if not self.enabled:
            return True
        for r in self._rules(groups):
            if "read" not in r.ops or r.module not in ("*", module):
                continue
            if r.path is not None or r.rpc is not None:
                continue
            if r.notification in (None, "*", name):
                return r.permit
        return self.read_default

    def data_rules(self, groups: set[str], op: str) -> list[Rule]:
        """Rules that may decide data access for `op`, in evaluation order."""
        return [
            r
            for r in self._rules(groups)
            if op in r.ops and r.rpc is None and r.notification is None
        ]

    def may_write(self, groups: set[str]) -> bool:
        """Whether some data write could be permitted to these groups at all."""
        if self.write_default:
            return True
        return any(
            r.permit for op in ("create", "update", "delete") for r in self.data_rules(groups, op)
        )

    def node_allowed(
        self,
        rules: list[Rule],
        module: str,
        path: tuple[str, ...],
        op: str,
        keys: tuple[tuple[tuple[str, str], ...], ...] | None = None,
    ) -> bool:
        """`path`: node names from the top; `keys`: per step, the (key, value)
        pairs of a list entry ((".", value) for a leaf-list entry), else ()."""
        for r in rules:
            if r.module not in ("*", module):
                continue
            if r.path is None or (path[: len(r.path)] == r.path and _preds_hold(r.preds, keys)):
                return r.permit
        if any(path[: len(p)] == p for p in DENY_ALL_PATHS):
            return False
        return self.read_default if op == "read" else self.write_default


def _preds_hold(preds: tuple, keys: tuple | None) -> bool:
    for i, want in enumerate(preds):
        if want:
            have = keys[i] if keys is not None and i < len(keys) else ()
            if any(pair not in have for pair in want):
                return False
    return True


_NAME = re.compile(r"\s*/\s*(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\s*")
_PRED = re.compile(
    r"\[\s*(?:(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)|(\.))\s*=\s*"
    r"(?:'([^']*)'|\"([^\"]*)\")\s*\]\s*"
)


def parse_path(path: str) -> tuple[tuple[str, ...], tuple[tuple[tuple[str, str], ...], ...]] | None:
    """A node-instance-identifier as (names, predicates per step), e.g.
    "/m:memif/m:interface[m:id='1']/m:secret" ->
    (("memif", "interface", "secret"), ((), (("id", "1"),), ())).
    "/" or "*" covers everything; None if the path is not understood."""
    p = path.strip()
    if p in ("/", "*"):
        return (), ()
    names: list[str] = []
    preds: list[tuple[tuple[str, str], ...]] = []
    pos = 0
    while pos < len(p):
        m = _NAME.match(p, pos)
        if m is None:
            return None
        names.append(m.group(1))
        pos = m.end()
        step: list[tuple[str, str]] = []
        while (pm := _PRED.match(p, pos)) is not None:
            key = pm.group(1) or pm.group(2)
            value = pm.group(3) if pm.group(3) is not None else pm.group(4)
            step.append((key, value))
            pos = pm.end()
        preds.append(tuple(step))
    return tuple(names), tuple(preds)


def path_names(path: str) -> tuple[str, ...] | None:
    """The node names of a rule path (see parse_path)."""
    parsed = parse_path(path)
    return None if parsed is None else parsed[0]


def _bool(el: etree._Element | None, default: bool, yes: str = "true") -> bool:
    if el is None or el.text is None:
        return default
    return el.text.strip() == yes


def policy_from(config: etree._Element | None) -> Policy | None:
    """The NACM policy in a <config> tree, or None if it holds no /nacm."""
    nacm = config.find(Q + "nacm") if config is not None else None
    if nacm is None:
        return None
    pol = Policy(
        enabled=_bool(nacm.find(Q + "enable-nacm"), True),
        read_default=_bool(nacm.find(Q + "read-default"), True, "permit"),
        write_default=_bool(nacm.find(Q + "write-default"), False, "permit"),
        exec_default=_bool(nacm.find(Q + "exec-default"), True, "permit"),
        external_groups=_bool(nacm.find(Q + "enable-external-groups"), True),
    )
    for g in nacm.iterfind(f"{Q}groups/{Q}group"):
        pol.groups[g.findtext(Q + "name", "")] = {
            (u.text or "").strip() for u in g.iterfind(Q + "user-name")
        }
    for rl in nacm.iterfind(Q + "rule-list"):
        lst = RuleList(
            rl.findtext(Q + "name", ""),
            tuple((g.text or "").strip() for g in rl.iterfind(Q + "group")),
        )
        for r in rl.iterfind(Q + "rule"):
            ops_text = (r.findtext(Q + "access-operations") or "*").split()
            rule = Rule(
                name=r.findtext(Q + "name", ""),
                module=(r.findtext(Q + "module-name") or "*").strip(),
                rpc=(r.findtext(Q + "rpc-name") or "").strip() or None,
                notification=(r.findtext(Q + "notification-name") or "").strip() or None,
                ops=frozenset(OPS) if "*" in ops_text else frozenset(ops_text),
                permit=(r.findtext(Q + "action") or "").strip() == "permit",
            )
            p = r.findtext(Q + "path")
            if p is not None:
                parsed = parse_path(p)
                if parsed is None:  # not understood: the rule can match nothing
                    pol.skipped.append(f"{lst.name}/{rule.name}: {p}")
                    continue
                rule.path, rule.preds = parsed
            lst.rules.append(rule)
        pol.rule_lists.append(lst)
    return pol


def builtin_policy() -> Policy:
    """Used while running holds no /nacm: RFC 8341 defaults, and users in the
    'admin' group may do everything (other users can read, not write)."""
    return Policy(
        rule_lists=[RuleList("admin", ("admin",), [Rule("permit-all", permit=True)])],
        builtin=True,
    )
