"""XPath 1.0 filter expressions read before they run: names resolved against the
served modules, and an upper bound on what evaluating them costs.

lxml (libxml2) evaluates an expression in one C call that cannot be
interrupted, so a client's expression is bounded before it runs: `cost` walks
the expression's grammar and bounds the node visits of each step from the size
of the data it will run on (nodes N, widest fan-out F, depth D). A predicate
runs once per candidate node, so nested location paths multiply:
`//*[count(//*) > 0]` costs about N², each further level another factor N.
Lexical rules and grammar: XPath 1.0 sections 3 and 3.7.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from agent.errors import RpcError

_NCNAME = r"[^\W\d][\w.\-\u00b7]*"
_TOKEN = re.compile(
    rf"""\s*(?:
    (?P<literal>"[^"]*"|'[^']*')
    |(?P<number>\d+(?:\.\d*)?|\.\d+)
    |(?P<op>\.\.|::|//|!=|<=|>=|[()\[\].@,/|+\-=<>*])
    |(?P<var>\$(?:{_NCNAME}:)?{_NCNAME})
    |(?P<name>{_NCNAME}:\*|{_NCNAME}(?::{_NCNAME})?)
    )""",
    re.VERBOSE,
)
_AFTER_NAME = re.compile(r"\s*(::|\()")
_NODE_TYPES = frozenset({"comment", "text", "processing-instruction", "node"})
_OPERATOR_NAMES = frozenset({"and", "or", "mod", "div"})
# After one of these (or at the start) '*' is a name test and a name is not an
# operator (XPath 1.0 §3.7, first disambiguation rule).
_BEFORE_OPERAND = frozenset(
    {"@", "::", "(", "[", ",", "and", "or", "mod", "div", "*op", "/", "//", "|", "+", "-"}
    | {"=", "!=", "<", "<=", ">", ">="}
)


@dataclass
class Token:
    kind: str  # literal number op var name nametest axis func nodetype opname
    text: str
    start: int
    end: int


def tokenize(expr: str) -> list[Token]:
    """The expression's tokens, names classified by the §3.7 rules; an
    expression lxml accepts always tokenizes."""
    out: list[Token] = []
    pos, n = 0, len(expr)
    while pos < n:
        m = _TOKEN.match(expr, pos)
        if m is None or m.end() == pos:
            if expr[pos:].strip() == "":
                break
            raise ValueError(f"unexpected character at {pos}")
        kind = m.lastgroup
        text = m.group(kind)
        start = m.start(kind)
        prev = out[-1] if out else None
        operand_next = prev is None or (
            (prev.text if prev.kind in ("op", "opname") else None) in _BEFORE_OPERAND
        )
        if kind == "op" and text == "*":
            # "*op" marks the multiply operator apart from the name test "*"
            kind, text = ("nametest", "*") if operand_next else ("op", "*op")
        elif kind == "name":
            after = _AFTER_NAME.match(expr, m.end())
            if not operand_next and text in _OPERATOR_NAMES:
                kind = "opname"
            elif after and after.group(1) == "::":
                kind = "axis"
            elif after:
                kind = "nodetype" if text in _NODE_TYPES else "func"
            else:
                kind = "nametest"
        out.append(Token(kind, text, start, m.end()))
        pos = m.end()
    return out


# -- names -----------------------------------------------------------------------------------


def qualify(
    expr: str,
    tokens: list[Token],
    declared: dict[str, str],
    modules: dict[str, str],
    names: dict[str, frozenset[str]],
) -> tuple[str, dict[str, str]]:
    """The expression with unprefixed element name tests qualified, and the
    prefix map to compile it with.

    Prefixes the filter declares win; module names and prefixes of the served
    modules (`modules`) resolve the others; an unprefixed name is given the
    namespace of the one served module that defines a node of that name
    (`names`). A name several modules define is refused as ambiguous; one none
    defines is left as it is (it selects nothing).
    """
    nsmap = {p: u for p, u in modules.items() if p != "xml"}
    nsmap.update(declared)
    prefix_of = {}
    for p, u in nsmap.items():
        prefix_of.setdefault(u, p)
    parts, last = [], 0
    for i, t in enumerate(tokens):
        if t.kind != "nametest" or ":" in t.text or t.text == "*":
            continue
        prev = tokens[i - 1] if i else None
        if prev is not None and (
            prev.text == "@"
            or (prev.text == "::" and i >= 2 and tokens[i - 2].text in ("attribute", "namespace"))
        ):
            continue  # attributes are in no namespace
        spaces = names.get(t.text)
        if not spaces:
            continue
        if len(spaces) > 1:
            owners = sorted(p for p, u in modules.items() if u in spaces and p != "xml")
            raise RpcError(
                "invalid-value",
                f"XPath name {t.text!r} is ambiguous: it is defined in several served "
                f"modules ({', '.join(owners) or ', '.join(sorted(spaces))}); give it a prefix",
                type="protocol",
                info=[("bad-attribute", "select"), ("bad-element", "filter")],
            )
        (ns,) = spaces
        prefix = prefix_of.get(ns)
        if prefix is None:
            prefix = f"_q{len(prefix_of)}"
            prefix_of[ns] = prefix
            nsmap[prefix] = ns
        parts.append(expr[last : t.start])
        parts.append(f"{prefix}:{t.text}")
        last = t.end
    if not parts:
        return expr, nsmap
    parts.append(expr[last:])
    return "".join(parts), nsmap


_NAMES: dict[int, tuple[dict, dict[str, frozenset[str]]]] = {}


def node_names(index: dict) -> dict[str, frozenset[str]]:
    """Local name -> namespaces of the schema nodes of that name in `index`
    (built once per schema index)."""
    key = id(index)
    hit = _NAMES.get(key)
    if hit is not None and hit[0] is index:
        return hit[1]
    found: dict[str, set[str]] = {}
    stack = [index]
    while stack:
        level = stack.pop()
        for tag, info in level.items():
            ns, local = tag[1:].split("}", 1)
            found.setdefault(local, set()).add(ns)
            if info.children:
                stack.append(info.children)
    names = {k: frozenset(v) for k, v in found.items()}
    _NAMES[key] = (index, names)
    return names


# -- cost ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """What bounds evaluation on one data tree: its nodes, depth, and per level
    (0 = the root, 1 = top-level elements) the widest fan-out and the largest
    subtree of a node there. Levels let `/memif/interface[id='1']` be bounded by
    an interface's ten leaves, not by the widest node anywhere."""

    nodes: int
    depth: int
    fanout: tuple[int, ...]
    subtree: tuple[int, ...]
    # local name -> (elements of that name, widest fan-out, largest subtree)
    names: dict[str, tuple[int, int, int]]

    @classmethod
    def of(cls, tops: Iterable[etree._Element]) -> Shape:
        fanout, subtree = [0], [1]
        names: dict[str, list[int]] = {}
        nodes = 1
        # per open element: (level, nodes when it started)
        stack: list[tuple[int, int]] = []
        for top in tops:
            fanout[0] += 1
            for event, el in etree.iterwalk(top, events=("start", "end")):
                if event == "end":
                    level, began = stack.pop()
                    size = nodes - began
                    if size > subtree[level]:
                        subtree[level] = size
                    stats = names[el.tag.rsplit("}", 1)[-1]]
                    if size > stats[2]:
                        stats[2] = size
                    continue
                level = len(stack) + 1
                if level == len(fanout):
                    fanout.append(0)
                    subtree.append(0)
                stack.append((level, nodes))
                # An element, its text node and its attributes are nodes XPath visits.
                n_attr = len(el.attrib)
                nodes += 2 + n_attr
                width = len(el) + n_attr + 1
                if width > fanout[level]:
                    fanout[level] = width
                tag = el.tag
                if not isinstance(tag, str):
                    tag = ""  # comments and PIs are not kept in data trees
                stats = names.setdefault(tag.rsplit("}", 1)[-1], [0, 0, 0])
                stats[0] += 1
                if width > stats[1]:
                    stats[1] = width
        subtree[0] = nodes
        # text and attribute nodes one level below the deepest element
        fanout.append(1)
        subtree.append(1)
        return cls(
            nodes,
            len(fanout),
            tuple(fanout),
            tuple(subtree),
            {k: (v[0], v[1], v[2], v[0]) for k, v in names.items()},
        )

    @classmethod
    def estimate(cls, tops: list[etree._Element], index: dict) -> Shape:
        """An upper bound of `of(tops)` from the schema (`index`: tag -> SNodeInfo)
        and a few counts libxml2 takes in C: walking the tree in Python to
        measure it cost more than 1 s at 10,000 interfaces. Each schema node has
        one instance per parent entry, except lists and leaf-lists, whose
        instances are counted."""
        tops = list(tops)
        if any(top.tag not in index for top in tops):
            return cls.of(tops)  # data the schema does not describe: measured
        counts: dict[str, int] = dict.fromkeys(_list_tags(index), 0)
        if counts:
            # One walk in C that stops only at list and leaf-list entries.
            for top in tops:
                for el in top.iter(*counts):
                    counts[el.tag] += 1
        nodes = 1 << 62  # refined below: what the schema allows with these counts
        fanout: list[int] = [max(len(tops), 1)]
        subtree: list[int] = [nodes]
        names: dict[str, list[int]] = {}

        def walk(level: dict, depth: int, parents: int) -> int:
            """Largest subtree of one node whose children's schema is `level`
            (its text node and attributes included); `parents`: instances of
            that node in the data."""
            total = 1 + _ATTRS
            for tag, info in level.items():
                listed = tag in counts
                instances = min(counts[tag] if listed else parents, nodes)
                per_parent = instances if listed else 1
                while len(fanout) <= depth:
                    fanout.append(1)
                    subtree.append(1)
                kids = 1 + _ATTRS + sum(counts.get(c, 1) for c in info.children)
                child = min(1 + walk(info.children, depth + 1, instances), nodes)
                total += per_parent * child
                fanout[depth] = max(fanout[depth], min(kids, nodes))
                subtree[depth] = max(subtree[depth], child)
                st = names.setdefault(tag.rsplit("}", 1)[-1], [0, 0, 0, 0])
                st[0] = min(st[0] + instances, nodes)
                st[1] = max(st[1], min(kids, nodes))
                st[2] = max(st[2], child)
                st[3] = max(st[3], per_parent)
            return min(total, nodes)

        nodes = 1 + walk(index, 1, 1)
        fanout = [min(f, nodes) for f in fanout]
        subtree = [min(x, nodes) for x in subtree]
        subtree[0] = nodes
        for st in names.values():
            st[0], st[1], st[2] = min(st[0], nodes), min(st[1], nodes), min(st[2], nodes)
        fanout.append(1)  # text and attribute nodes below the deepest element
        subtree.append(1)
        return cls(
            nodes,
            len(fanout) + 1,
            tuple(fanout),
            tuple(subtree),
            {k: (v[0], v[1], v[2], v[3]) for k, v in names.items()},
        )

    # Where a node-set is known to sit: ("level", n) or ("name", local), else None.
    def fan(self, where: tuple | None) -> int:
        where = _base(where)
        if where is not None:
            if where[0] == "name":
                hit = self.names.get(where[1])
                return hit[1] if hit else max(self.fanout)
            if where[1] < len(self.fanout):
                return self.fanout[where[1]]
        return max(self.fanout)

    def sub(self, where: tuple | None) -> int:
        where = _base(where)
        if where is not None:
            if where[0] == "name":
                hit = self.names.get(where[1])
                return hit[2] if hit else self.nodes
            if where[1] < len(self.subtree):
                return self.subtree[where[1]]
        return self.nodes

    def count(self, local: str) -> int:
        """Elements of that local name (a name test matches no more)."""
        hit = self.names.get(local)
        return hit[0] if hit else self.nodes

    def siblings(self, local: str) -> int:
        """Most elements of that name under one parent."""
        hit = self.names.get(local)
        return hit[3] if hit and len(hit) > 3 else self.count(local)


# Relative costs measured here with lxml 6.1 against one node visit of an axis
# walk (~20 ns on this machine, predicates included): one node of a
# string-value (libxml2 copies it out: ~0.5 us), one pair of a node-set
# comparison, and duplicate checks of a node-set merge (MERGE_PER_VISIT of
# them cost one visit).
STRING_WEIGHT = 5
PAIR_WEIGHT = 40
MERGE_PER_VISIT = 64


# Attributes an element of a data tree may carry (with-defaults, origin tags).
_ATTRS = 1
_LISTS: dict[int, tuple[dict, tuple[str, ...]]] = {}


def _list_tags(index: dict) -> tuple[str, ...]:
    """Tags of the lists and leaf-lists anywhere in the schema index."""
    hit = _LISTS.get(id(index))
    if hit is not None and hit[0] is index:
        return hit[1]
    found: list[str] = []
    stack = [index]
    while stack:
        level = stack.pop()
        for tag, info in level.items():
            if info.kind in ("list", "leaf-list"):
                found.append(tag)
            if info.children:
                stack.append(info.children)
    tags = tuple(dict.fromkeys(found))
    _LISTS[id(index)] = (index, tags)
    return tags


# Functions that read no string-value of a node-set argument (XPath 1.0 §4).
_NO_STRING_VALUES = frozenset({"count", "boolean", "not", "local-name", "name", "namespace-uri"})


class TooCostly(Exception):
    pass


class _Cost:
    """Recursive descent over XPath 1.0's grammar; each rule returns (work,
    size, level): node visits of one evaluation for one context node, an upper
    bound on the node-set it yields (0 for a number, string or boolean), and the
    tree level of those nodes when known (None otherwise)."""

    def __init__(self, tokens: list[Token], shape: Shape, budget: int, max_depth: int) -> None:
        self.t = tokens
        self.i = 0
        self.shape = shape
        self.n, self.d = shape.nodes, shape.depth
        self.budget = budget
        self.max_depth = max_depth
        self.nesting = 0
        # level of the context node of the predicate being read (None: unknown)
        self.level: tuple | None = None
        self.self_strings = 0  # string-value reads of the predicate's context node
        self.last_predicate = (1, 0)

    # token helpers
    def peek(self, k: int = 0) -> Token | None:
        j = self.i + k
        return self.t[j] if j < len(self.t) else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.kind in ("op", "opname") and t.text in texts

    def take(self) -> Token:
        t = self.peek()
        if t is None:
            raise ValueError("unexpected end of expression")
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text != text:
            raise ValueError(f"expected {text!r} at {t.start}")

    def check(self, work: int) -> int:
        if work > self.budget:
            raise TooCostly
        return work

    def enter(self) -> None:
        self.nesting += 1
        if self.max_depth and self.nesting > self.max_depth:
            raise TooCostly("nesting")

    def strings(self, size: int, level: tuple | None) -> int:
        """Work of the string-values of a node-set: each node's subtree, and all
        of them together at most every node once per level above it. Those of
        the predicate's own context node are counted in `self_strings` instead:
        over all the distinct candidates of a step they add up to the same
        N x D bound, not to candidates x subtree."""
        if not size:
            return 0
        if level is not None and level[0] == "self":
            self.self_strings += 1
            return 0
        return STRING_WEIGHT * min(size * self.shape.sub(level), self.n * self.d)

    def tested(self, matched: int, level: tuple | None) -> int:
        """Work of the predicate just read (`predicate()`) for `matched` candidates."""
        work, reads = self.last_predicate
        shared = min(matched * self.shape.sub(_base(level)), self.n * self.d)
        return matched * work + reads * STRING_WEIGHT * shared

    # grammar
    def expr(self) -> tuple[int, int, tuple | None]:
        return self.binary(0)

    _LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"))

    def binary(self, k: int) -> tuple[int, int, tuple | None]:
        if k == len(self._LEVELS):
            return self.multiplicative()
        work, size, level = self.binary(k + 1)
        ops = self._LEVELS[k]
        while self.at(*ops):
            op = self.take().text
            w2, s2, l2 = self.binary(k + 1)
            work += w2
            if op not in ("and", "or"):
                # string-values of both sides; node-set against node-set: each pair
                work += self.strings(size, level) + self.strings(s2, l2)
                work += size * s2 * PAIR_WEIGHT
            work = self.check(work)
            size, level = 0, None
        return work, size, level

    def multiplicative(self) -> tuple[int, int, tuple | None]:
        work, size, level = self.unary()
        while self.at("*op", "div", "mod"):
            self.take()
            w2, s2, l2 = self.unary()
            work = self.check(work + w2 + self.strings(size, level) + self.strings(s2, l2))
            size, level = 0, None
        return work, size, level

    def unary(self) -> tuple[int, int, tuple | None]:
        neg = False
        while self.at("-"):
            self.take()
            neg = True
        work, size, level = self.union()
        if neg:
            return work + self.strings(size, level), 0, None
        return work, size, level

    def union(self) -> tuple[int, int, tuple | None]:
        work, size, level = self.path()
        while self.at("|"):
            self.take()
            w2, s2, l2 = self.path()
            size = min(size + s2, self.n)
            level = level if level == l2 else None
            work = self.check(work + w2 + size)
        return work, size, level

    def path(self) -> tuple[int, int, tuple | None]:
        t = self.peek()
        if t is None:
            raise ValueError("unexpected end of expression")
        if t.kind == "op" and t.text in ("/", "//"):
            self.take()
            if t.text == "//":
                visits, size, level = self.axis("descendant-or-self", 1, ("level", 0))
                return self.steps(1 + visits, size, level)
            if self.starts_step():
                return self.steps(1, 1, ("level", 0))
            return 1, 1, ("level", 0)
        if self.starts_step():
            return self.steps(0, 1, self.level)
        work, size, level = self.primary()
        while self.at("["):
            self.predicate(level)
            work = self.check(work + self.tested(max(size, 1), level))
        if self.at("/", "//"):
            return self.continue_steps(work, max(size, 1), level)
        return work, size, level

    def starts_step(self) -> bool:
        t = self.peek()
        if t is None:
            return False
        if t.kind in ("nametest", "axis", "nodetype"):
            return True
        return t.kind == "op" and t.text in (".", "..", "@")

    def steps(self, work: int, c: int, level: tuple | None) -> tuple[int, int, tuple | None]:
        work, c, level = self.step(work, c, level)
        return self.continue_steps(work, c, level)

    def continue_steps(
        self, work: int, c: int, level: tuple | None
    ) -> tuple[int, int, tuple | None]:
        while self.at("/", "//"):
            if self.take().text == "//":
                visits, out, level = self.axis("descendant-or-self", c, level)
                if c > 1:
                    work += visits * out // MERGE_PER_VISIT  # see step()
                work = self.check(work + visits)
                c = out
            work, c, level = self.step(work, c, level)
        return work, c, level

    def axis(self, name: str, c: int, level: tuple | None) -> tuple[int, int, tuple | None]:
        """(visits, out, out level) of one axis walk from `c` distinct context
        nodes at `level`."""
        n, d, sh = self.n, self.d, self.shape
        if name in ("child", "attribute", "namespace"):
            out = min(c * sh.fan(level), n)
            return out, out, _down(level)
        if name == "self":
            return c, c, level
        if name == "parent":
            return c, c, _up(level)
        if name in ("descendant", "descendant-or-self"):
            # the walks of distinct nodes overlap at most once per ancestor level
            return min(c * sh.sub(level), n * d), n, None
        if name in ("ancestor", "ancestor-or-self"):
            return min(c * d, n * d), min(c * d, n), None
        if name in ("following-sibling", "preceding-sibling"):
            f = sh.fan(_up(level))
            return min(c * f, n * f), min(c * f, n), level
        return c * n, n, None  # following, preceding

    def step(self, work: int, c: int, level: tuple | None) -> tuple[int, int, tuple | None]:
        t = self.take()
        if t.kind == "op" and t.text == ".":
            visits, out, level = self.axis("self", c, level)
            matched = visits
        elif t.kind == "op" and t.text == "..":
            visits, out, level = self.axis("parent", c, level)
            matched = visits
        else:
            axis = "child"
            if t.kind == "op" and t.text == "@":
                axis = "attribute"
                t = self.take()
            elif t.kind == "axis":
                axis = t.text
                self.expect("::")
                t = self.take()
            if t.kind == "nodetype":
                self.expect("(")
                nxt = self.peek()
                if nxt is not None and nxt.kind == "literal":
                    self.take()
                self.expect(")")
            elif t.kind != "nametest":
                raise ValueError(f"expected a node test at {t.start}")
            visits, out, level = self.axis(axis, c, level)
            if t.kind == "nametest" and not t.text.endswith("*") and axis != "attribute":
                # a name test keeps only elements of that name
                local = t.text.rsplit(":", 1)[-1]
                per = self.shape.count(local)
                if axis == "child":
                    out = min(out, c * self.shape.siblings(local))
                out = min(out, per)
                # an element has one parent: child steps of distinct nodes meet
                # each element once
                matched = min(visits, per if axis == "child" else c * per)
                level = ("name", local)
            else:
                matched = visits
            if c > 1 and axis not in ("child", "attribute", "namespace", "self"):
                # libxml2 merges each context node's result into the step's
                # node-set checking for duplicates: matched x out comparisons
                work += matched * out // MERGE_PER_VISIT
        work = self.check(work + visits)
        while self.at("["):
            # each matching candidate of each context node is tested
            self.predicate(level)
            work = self.check(work + self.tested(matched, level))
        return work, out, level

    def predicate(self, level: tuple | None) -> None:
        """Read one predicate for context nodes at `level`; its cost per
        candidate is left in `last_predicate` for `tested()`."""
        self.expect("[")
        self.enter()
        saved, self.level = self.level, ("self", level)
        saved_reads, self.self_strings = self.self_strings, 0
        work, size, lv = self.expr()
        work += self.strings(min(size, 1), lv)  # its boolean or number value
        self.last_predicate = (max(work, 1), self.self_strings)
        self.level, self.self_strings = saved, saved_reads
        self.nesting -= 1
        self.expect("]")

    def primary(self) -> tuple[int, int, tuple | None]:
        t = self.take()
        if t.kind in ("literal", "number"):
            return 1, 0, None
        if t.kind == "var":
            return 1, self.n, None
        if t.kind == "op" and t.text == "(":
            self.enter()
            r = self.expr()
            self.nesting -= 1
            self.expect(")")
            return r
        if t.kind == "func":
            self.expect("(")
            work, size = 1, 0
            self.enter()
            if not self.at(")"):
                while True:
                    w, s, lv = self.expr()
                    if t.text not in _NO_STRING_VALUES:
                        w += self.strings(s, lv)
                    work = self.check(work + w + s)
                    if not self.at(","):
                        break
                    self.take()
            self.nesting -= 1
            self.expect(")")
            if t.text == "id":
                size = self.n
            return work, size, None
        raise ValueError(f"unexpected {t.text!r} at {t.start}")


def cost(tokens: list[Token], shape: Shape, budget: int, max_depth: int = 32) -> tuple | None:
    """An upper bound on the node visits of evaluating the expression on data
    of `shape`, or None if it exceeds `budget` or nests deeper than max_depth."""
    walker = _Cost(tokens, shape, budget, max_depth)
    try:
        work, _, _ = walker.expr()
    except (TooCostly, RecursionError):
        return None
    extra = walker.peek()
    if extra is not None:
        raise ValueError(f"unexpected {extra.text!r} at {extra.start}")
    return work


def _base(where: tuple | None) -> tuple | None:
    """Where, without the mark of "the predicate's context node itself"."""
    while where is not None and where[0] == "self":
        where = where[1]
    return where


def _down(where: tuple | None) -> tuple | None:
    where = _base(where)
    return ("level", where[1] + 1) if where is not None and where[0] == "level" else None


def _up(where: tuple | None) -> tuple | None:
    where = _base(where)
    if where is not None and where[0] == "level" and where[1] > 0:
        return ("level", where[1] - 1)
    return None
