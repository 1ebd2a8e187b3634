"""RFC 8341 NACM enforcement (feature module).

Operations are checked before dispatch (server.add_rpc_hook), data reads by
pruning get/get-config replies, data writes on every datastore change
(edit-config, copy-config, delete-config, commit: what the session changes
must be writable by it), notifications per subscriber. The recovery user
(--recovery-user, the initial admin) bypasses all of it. Groups come from the
NACM configuration and from the users file (external groups).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any, Protocol

from lxml import etree

from agent.datastore.edit import OP_ATTR, OPERATIONS
from agent.errors import RpcError
from agent.nacm.rules import (
    DENY_ALL_PATHS,
    NACM_NS,
    Policy,
    builtin_policy,
    parse_path,
    policy_from,
)
from agent.rpc.context import RpcContext
from agent.rpc.host import Host
from agent.yangdata.schema_index import LEAF, LEAFLIST, LIST, SNodeInfo, index_for
from agent.yangdata.tree_diff import changes, path_step, step_keys
from agent.yangdata.xmltree import NC, elements, entries_by_key, find_match, key_values


class GroupSource(Protocol):
    """The agent's user database (agent.ssh.users.UserDB): a user's NACM groups."""

    def groups(self, username: str) -> Iterable[str]: ...

log = logging.getLogger(__name__)

_NCN = "{urn:ietf:params:xml:ns:yang:ietf-netconf-notifications}"
_CONFIG_CHANGE, _EDIT, _TARGET = _NCN + "netconf-config-change", _NCN + "edit", _NCN + "target"
_WRITE_OPS = ("create", "update", "delete")
# Under the built-in policy these take write access, not only exec access: a
# lock stops the writers' edits, and a persist-id confirms or undoes their commit.
_WRITER_RPCS = {"lock", "commit", "cancel-commit"}


class Nacm:
    def __init__(
        self,
        server: Host,
        running: Callable[[], etree._Element | None],
        users: GroupSource | None = None,
    ) -> None:
        self.server = server
        self.running = running  # the running datastore's tree, which holds the NACM config
        self.users = users
        self.recovery = getattr(server.options, "recovery_user", "admin")
        self.index = index_for(server.schema)
        from libyang.util import c2str

        self.modules = {c2str(m.cdata.ns): m.name() for m in server.schema}
        self.denied_operations = 0
        self.denied_data_writes = 0
        self.denied_notifications = 0
        self._cache: tuple[Any, Policy] | None = None
        # (tree, policy, groups, readable copy): datastore trees are never changed
        # in place, so a user's readable copy of one stays right until either changes.
        self._copies: list[tuple[Any, Policy, frozenset[str], etree._Element]] = []

    # -- policy ------------------------------------------------------------------------------

    def policy(self) -> Policy:
        running = self.running()
        if self._cache is None or self._cache[0] is not running:
            pol = policy_from(running) or builtin_policy()
            for rule in pol.skipped:
                log.warning("NACM rule %s: path not understood, the rule matches nothing", rule)
            self._cache = (running, pol)
        return self._cache[1]

    def exempt(self, username: str) -> bool:
        return username == self.recovery or not self.policy().enabled

    def groups(self, username: str) -> set[str]:
        users = self.users
        external = tuple(users.groups(username)) if users is not None else ()
        return self.policy().user_groups(username, external)

    # -- operations ------------------------------------------------------------------------------

    def check_rpc(self, ctx: RpcContext, op: etree._Element) -> None:
        if self.exempt(ctx.username):
            return
        q = etree.QName(op)
        module = self.modules.get(q.namespace or "", "")
        pol = self.policy()
        groups = self.groups(ctx.username)
        if not pol.rpc_allowed(groups, module, q.localname) or (
            pol.builtin and _takes_write_access(op) and not pol.may_write(groups)
        ):
            self.denied_operations += 1
            raise RpcError(
                "access-denied",
                f"user {ctx.username} may not run <{q.localname}>",
                type="protocol",
                info=[("bad-element", q.localname)],
            )

    # -- reads ---------------------------------------------------------------------------------

    def filter_read(self, username: str, data: etree._Element) -> None:
        """Remove from `data` (a <data> wrapper) every node the user may not read."""
        if self.exempt(username):
            return
        pol = self.policy()
        rules = pol.data_rules(self.groups(username), "read")
        # A node below an allowed parent, in the parent's module, decides like its
        # parent unless some rule (or default-deny-all) path goes through it: only
        # those paths are walked, not every leaf of 1,000 list entries.
        paths = [r.path for r in rules if r.path] + list(DENY_ALL_PATHS)
        through = {p[:i] for p in paths for i in range(1, len(p) + 1)}
        for top in elements(data):
            self._prune(pol, rules, through, top, (), (), self.index, None)

    def has_readable_copy(self, username: str, tree: etree._Element) -> bool:
        """Whether `readable_copy(username, tree)` is kept already (costs nothing)."""
        pol, groups = self.policy(), frozenset(self.groups(username))
        return any(t is tree and p is pol and g == groups for t, p, g, _ in self._copies)

    def readable_copy(self, username: str, tree: etree._Element) -> etree._Element:
        """A copy of datastore tree `tree` without what `username` may not read
        (never change it: it is shared by that user's next reads of that tree)."""
        pol, groups = self.policy(), frozenset(self.groups(username))
        for t, p, g, copy in self._copies:
            if t is tree and p is pol and g == groups:
                return copy
        copy = deepcopy(tree)
        self.filter_read(username, copy)
        self._copies = [(tree, pol, groups, copy), *self._copies[:7]]
        return copy

    def _prune(
        self,
        pol: Policy,
        rules: list,
        through: set[tuple[str, ...]],
        el: etree._Element,
        parent: tuple[str, ...],
        parent_keys: tuple,
        schema: dict[str, SNodeInfo],
        parent_ns: str | None,
    ) -> None:
        ns, _, name = el.tag[1:].partition("}") if el.tag[0] == "{" else ("", "", el.tag)
        path = (*parent, name)
        info = schema.get(el.tag)
        keys = (*parent_keys, step_keys(el, info))
        if not pol.node_allowed(rules, self.modules.get(ns, ""), path, "read", keys):
            el.getparent().remove(el)
            return
        children = info.children if info is not None else {}
        for child in el.iterchildren(etree.Element):
            tag = child.tag
            cns, _, cname = tag[1:].partition("}") if tag[0] == "{" else ("", "", tag)
            if cns == ns and (*path, cname) not in through:
                continue  # decided like this node (allowed), and so is all below it
            self._prune(pol, rules, through, child, path, keys, children, ns)

    # -- writes --------------------------------------------------------------------------------

    def check_write(self, session_id: int, old: etree._Element, new: etree._Element) -> None:
        session = self.server.sessions.get(session_id)
        username = session.username if session is not None else self.recovery
        if self.exempt(username):
            return
        pol = self.policy()
        groups = self.groups(username)
        rules = {op: pol.data_rules(groups, op) for op in ("create", "update", "delete")}
        read = pol.data_rules(groups, "read")
        for op, module, path, keys, xpath in changes(old, new, self.index, self.modules):
            if not pol.node_allowed(rules[op], module, path, op, keys):
                self.denied_data_writes += 1
                hidden = _hidden_denial(pol, read, username, module, path, keys)
                raise hidden or RpcError(
                    "access-denied",
                    f"user {username} may not {op} {xpath}",
                    path=xpath,
                )

    def check_request(
        self,
        session_id: int,
        base: etree._Element,
        edit: etree._Element,
        default_operation: str,
        whole: bool = False,
    ) -> None:
        """access-denied unless the session may do to every node `edit` names what
        the edit asks for that node (RFC 8341 §3.4.5), whether or not it would
        change anything. `whole`: `edit` replaces all of `base` (copy-config).

        A leaf's value is checked as written even when it equals the stored one,
        and a delete or remove needs delete access whether the node exists, so
        no reply tells a stored value. A replace that would drop children the
        user may not read needs delete access to them whether they exist or not.
        As the RFC says, existence decides between create and update: a user
        holding only one of the two on a node it cannot read learns whether that
        node exists (docs/security.md)."""
        session = self.server.sessions.get(session_id)
        username = session.username if session is not None else self.recovery
        if self.exempt(username):
            return
        pol = self.policy()
        groups = self.groups(username)
        rules = {op: pol.data_rules(groups, op) for op in _WRITE_OPS}
        if all(_uniform(rules[op]) is True for op in _WRITE_OPS):
            return  # a permit-all rule decides every node: nothing to walk
        walk = _RequestWalk(self, pol, rules, pol.data_rules(groups, "read"), username)
        if whole:
            walk.dropped_hidden(self.index, edit, (), (), ())
        walk.children(base, edit, self.index, default_operation, (), (), ())

    def visible_errors(self, session_id: int, errors: list[RpcError]) -> list[RpcError]:
        """An edit's errors as this session may see them: data-exists or data-missing
        about a node it may not read would tell it that node's existence, so those
        are access-denied, at the nearest readable ancestor."""
        session = self.server.sessions.get(session_id)
        username = session.username if session is not None else self.recovery
        if self.exempt(username):
            return errors
        pol = self.policy()
        read = pol.data_rules(self.groups(username), "read")
        out = []
        for e in errors:
            parsed = _parse(e.path) if e.tag in ("data-exists", "data-missing") else None
            hidden = parsed and _hidden_denial(pol, read, username, *parsed)
            if hidden:
                self.denied_data_writes += 1
            out.append(hidden or e)
        return out

    # -- notifications -----------------------------------------------------------------------

    def check_notification(self, session: Any, event: etree._Element) -> bool:
        if self.exempt(session.username):
            return True
        q = etree.QName(event)
        module = self.modules.get(q.namespace or "", "")
        ok = self.policy().notification_allowed(self.groups(session.username), module, q.localname)
        if not ok:
            self.denied_notifications += 1
            return False
        if event.tag == _CONFIG_CHANGE:
            return self._readable_edits(session.username, event)
        return True

    def _readable_edits(self, username: str, event: etree._Element) -> bool | etree._Element:
        """A config-change names what changed: the user gets only the edits whose
        target it may read (RFC 8341 3.4.6 hides unreadable content), and no event
        when none is left (an empty edit list still says that something changed)."""
        pol = self.policy()
        rules = pol.data_rules(self.groups(username), "read")

        def readable(edit: etree._Element) -> bool:
            parsed = _parse(edit.findtext(_TARGET))
            # not understood: not shown
            return parsed is not None and pol.node_allowed(
                rules, parsed[0], parsed[1], "read", parsed[2]
            )

        shown = [readable(e) for e in event.iterchildren(_EDIT)]
        if all(shown):
            return True
        if not any(shown):
            return False
        trimmed = deepcopy(event)
        for edit, keep in zip(list(trimmed.iterchildren(_EDIT)), shown, strict=True):
            if not keep:
                trimmed.remove(edit)
        return trimmed

    def state(self) -> list[etree._Element]:
        nacm = etree.Element(f"{{{NACM_NS}}}nacm", nsmap={None: NACM_NS})
        for leaf, value in (
            ("denied-operations", self.denied_operations),
            ("denied-data-writes", self.denied_data_writes),
            ("denied-notifications", self.denied_notifications),
        ):
            etree.SubElement(nacm, f"{{{NACM_NS}}}{leaf}").text = str(value)
        return [nacm]


def _takes_write_access(op: etree._Element) -> bool:
    """lock of running or candidate; commit or cancel-commit naming a persist-id."""
    q = etree.QName(op)
    if q.namespace != NC[1:-1] or q.localname not in _WRITER_RPCS:
        return False
    if q.localname == "lock":
        target = op.find(NC + "target")
        if target is None:
            target = op.find("target")
        names = {etree.QName(t).localname for t in elements(target)} if target is not None else ()
        return bool({"running", "candidate"} & set(names))
    return op.find(NC + "persist-id") is not None or op.find("persist-id") is not None


def _uniform(rules: list) -> bool | None:
    """permit/deny if the first rule decides every node, else None."""
    if rules and rules[0].module == "*" and rules[0].path is None:
        return rules[0].permit
    return None


class _RequestWalk:
    """One write request's nodes, checked against the rules (Nacm.check_request)."""

    def __init__(self, nacm: Nacm, pol: Policy, rules: dict, read: list, username: str) -> None:
        self.nacm, self.pol, self.rules, self.read, self.username = (
            nacm,
            pol,
            rules,
            read,
            username,
        )
        self.modules = nacm.modules
        self._lists: dict[tuple[etree._Element, str], dict] = {}

    def deny(self, op: str, module: str, path: tuple, keys: tuple, steps: tuple) -> RpcError:
        self.nacm.denied_data_writes += 1
        hidden = _hidden_denial(self.pol, self.read, self.username, module, path, keys)
        xpath = "".join(path_step(*s) for s in steps)
        return hidden or RpcError(
            "access-denied", f"user {self.username} may not {op} {xpath}", path=xpath
        )

    def require(self, ops: tuple, module: str, path: tuple, keys: tuple, steps: tuple) -> None:
        """`steps`: (module, name, keys) per step, for the error path (made only
        on a denial: most requests are allowed, and paths cost)."""
        for op in ops:
            if not self.pol.node_allowed(self.rules[op], module, path, op, keys):
                raise self.deny(op, module, path, keys, steps)

    def _match(self, base: etree._Element | None, el: etree._Element, info: SNodeInfo, kv):
        if base is None:
            return None
        if info.kind != LIST:
            return find_match(base, el, info)
        # One index per list: a bulk edit of n entries stays O(n). Keyed by the
        # element itself (kept alive by the key), never by id(): lxml proxies
        # come and go, and a reused id would hand out another list's index.
        key = (base, info.tag)
        idx = self._lists.get(key)
        if idx is None:
            idx = self._lists[key] = entries_by_key(base, info)
        return idx.get(kv)

    def children(
        self,
        base: etree._Element | None,
        edit: etree._Element,
        schema: dict[str, SNodeInfo],
        inherited: str,
        path: tuple,
        keys: tuple,
        steps: tuple,
        skip: tuple[str, ...] = (),
    ) -> None:
        for el in elements(edit):
            if el.tag in skip:
                continue  # a list key: it only addresses the entry
            info = schema.get(el.tag)
            op = el.get(OP_ATTR, inherited)
            if info is None or not info.config or (op not in OPERATIONS and op != "none"):
                continue  # the edit engine refuses it, whatever is stored
            kv = key_values(el, info) if info.kind == LIST else None
            if info.kind == LIST and kv is None:
                continue  # likewise (missing-element)
            self.node(base, el, info, op, path, keys, steps, kv)

    def node(
        self,
        base: etree._Element | None,
        el: etree._Element,
        info: SNodeInfo,
        op: str,
        path: tuple,
        keys: tuple,
        steps: tuple,
        kv: tuple[str, ...] | None,
    ) -> None:
        q = etree.QName(el)
        module = self.modules.get(q.namespace or "", "")
        if kv is not None:  # a list entry, its key values read once (as step_keys gives them)
            here = tuple(zip((k.split("}", 1)[1] for k in info.keys), kv, strict=True))
        else:
            here = step_keys(el, info)
        npath, nkeys = (*path, q.localname), (*keys, here)
        step = (*steps, (module, q.localname, here))
        match = self._match(base, el, info, kv)
        if op in ("delete", "remove"):
            self.require(("delete",), module, npath, nkeys, step)
            return  # what is below goes with the node
        if op == "create":
            needed: tuple = ("create",)
        elif op == "none":
            if info.kind in (LEAF, LEAFLIST):
                return  # nothing is done to it
            # Nothing asked for the node itself, but a missing one is created for
            # what the edit puts below it.
            needed = ("create",) if match is None else ()
        elif op == "merge" and info.kind not in (LEAF, LEAFLIST):
            # Merging into an existing container or entry changes only what the
            # edit names below it; a missing one is created.
            needed = ("create",) if match is None else ()
        else:
            # A leaf's value is written even if it equals the stored one.
            needed = ("update",) if match is not None else ("create",)
        self.require(needed, module, npath, nkeys, step)
        if info.kind in (LEAF, LEAFLIST):
            return
        if op in ("replace", "create"):
            # The new content is all of the node: unreadable children it leaves
            # out are dropped if they exist, so dropping them must be allowed.
            self.dropped_hidden(info.children, el, npath, nkeys, step)
        # Inside a created node the edit engine merges (edit.Editor._build).
        inner = "merge" if op == "create" else op
        skip = info.keys if info.kind == LIST else ()
        self.children(match, el, info.children, inner, npath, nkeys, step, skip)

    def dropped_hidden(
        self,
        schema: dict[str, SNodeInfo],
        el: etree._Element,
        path: tuple,
        keys: tuple,
        steps: tuple,
    ) -> None:
        """delete access to each child kind of `el` the user may not read and the
        new content does not name (a replace or copy-config drops it if it exists)."""
        named = {c.tag for c in elements(el)}
        for tag, cinfo in schema.items():
            if tag in named or not cinfo.config:
                continue
            ns, _, name = tag[1:].partition("}")
            cmodule = self.modules.get(ns, "")
            cpath = (*path, name)
            ckeys = (*keys, ())
            if self.pol.node_allowed(self.read, cmodule, cpath, "read", ckeys):
                continue
            step = (*steps, (cmodule, name, ()))
            self.require(("delete",), cmodule, cpath, ckeys, step)


def _parse(path: str | None) -> tuple[str, tuple[str, ...], tuple] | None:
    """(module, node names, keys per step) of a path this agent wrote (module names
    as prefixes: agent.yangdata.tree_diff, the edit engine), or None."""
    parsed = parse_path(path or "")
    if parsed is None or not parsed[0]:
        return None
    return (path or "").strip().lstrip("/").split(":", 1)[0], parsed[0], parsed[1]


def _hidden_denial(
    pol: Policy, read: list, username: str, module: str, names: tuple[str, ...], keys: tuple
) -> RpcError | None:
    """access-denied at the nearest ancestor the user may read, if the node `names`
    is one it may not read: an error must not tell that a hidden node exists."""
    shown = len(names)
    while shown and not pol.node_allowed(read, module, names[:shown], "read", keys):
        shown -= 1
    if shown == len(names):
        return None
    where = _xpath(module, names[:shown], keys) or "/"
    return RpcError("access-denied", f"user {username} may not change {where}", path=where)


def _xpath(module: str, names: tuple[str, ...], keys: tuple) -> str:
    """The path of the node `names` (with each step's key predicates)."""
    return "".join(
        path_step(module, name, keys[i] if i < len(keys) else ()) for i, name in enumerate(names)
    )


def register(server: Host, nacm: Nacm) -> None:
    """Checks on every RPC and notification; the datastores get `nacm` as their
    WriteAccess when they are built (agent.app)."""
    server.add_rpc_hook(nacm.check_rpc)
    server.add_notification_check(nacm.check_notification)
    server.add_state_provider(nacm.state, tags=(f"{{{NACM_NS}}}nacm",))
