"""Judging the RPC fuzzer's requests: the replies, the session and the datastores.

parse_sent reads a request as a conforming parser would; check_reply lists the
faults of a reply against RFC 6241 (sections 4.1-4.3, appendix A: error-type
and an error-tag that allows it, <ok/> or <data> as the operation calls for,
message-id and every other <rpc> attribute echoed, no "internal error", stored
data with no attributes but with-defaults and origin tags); tracebacks collects
those in the agent's log. Fuzzer drives the session, subscribed to
notifications (a create-subscription gets a fresh session of its own): it
sends each Request with get-configs of running, candidate and startup
pipelined behind it, blames a session that ends on the request before them and
reopens it, checks that a request that failed, or only reads, left the three
datastores as they were, and keeps one Finding (the shortest request) per kind
of fault; AgentGone ends the run when the agent has exited.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass

from agent_harness import AgentProcess, Raw, chunk, rpc
from lxml import etree
from rpc_fuzz_corpus import (
    DATA_ATTRS,
    DATA_OPS,
    DATA_TAGS,
    ERROR_TYPES,
    NC,
    NCM,
    NMDA,
    NOTIF,
    OK_OPS,
    PINGS,
    TAG_TYPES,
    WRITES,
)
from rpc_fuzz_mutate import Request

REPLY_TIMEOUT = 15.0

# -- checking replies ------------------------------------------------------------------------

_PLAIN = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True, load_dtd=False)


def parse_sent(raw: bytes) -> etree._Element | None:
    """The request as a conforming parser reads it; None if it is not well-formed."""
    if b"<!DOCTYPE" in raw:
        return None
    try:
        return etree.fromstring(raw, _PLAIN)
    except (etree.XMLSyntaxError, ValueError):
        return None


def operation_of(sent: etree._Element | None) -> str | None:
    if sent is None or sent.tag != f"{{{NC}}}rpc":
        return None
    ops = [c for c in sent if isinstance(c.tag, str)]
    return ops[0].tag if len(ops) == 1 else None


def short(tag: str | None) -> str:
    if tag is None:
        return "-"
    q = etree.QName(tag)
    return q.localname if q.namespace in (NC, NMDA, NCM, NOTIF) else tag


def check_reply(sent: etree._Element | None, reply: bytes) -> list[str]:
    """Faults in `reply` to `sent` (the parsed request, None if malformed)."""
    try:
        r = etree.fromstring(reply)
    except etree.XMLSyntaxError as e:
        why = re.sub(r", line \d+, column \d+.*", "", str(e))
        return [f"reply is not well-formed XML ({why})"]
    if r.tag != f"{{{NC}}}rpc-reply":
        return [f"reply is <{r.tag}>, not <rpc-reply>"]
    faults = []
    kids = [c for c in r if isinstance(c.tag, str)]
    errors = [c for c in kids if c.tag == f"{{{NC}}}rpc-error"]
    tags = set()
    for e in errors:
        etype = e.findtext(f"{{{NC}}}error-type")
        tag = e.findtext(f"{{{NC}}}error-tag")
        sev = e.findtext(f"{{{NC}}}error-severity")
        tags.add(tag)
        if etype not in ERROR_TYPES:
            faults.append(f"error-type {etype!r} is not an RFC 6241 type")
        if tag not in TAG_TYPES:
            faults.append(f"error-tag {tag!r} is not an RFC 6241 tag")
        elif etype in ERROR_TYPES and etype not in TAG_TYPES[tag]:
            faults.append(f"error-tag {tag} with error-type {etype} (appendix A forbids)")
        if sev not in ("error", "warning"):
            faults.append(f"error-severity {sev!r}")
        msg = e.findtext(f"{{{NC}}}error-message") or ""
        if "internal error" in msg:
            faults.append(msg[:200])  # "internal error: <exception>"
    if errors:
        if len(errors) != len(kids):
            faults.append("rpc-error mixed with other content")
    elif len(kids) != 1 or (kids[0].tag != f"{{{NC}}}ok" and kids[0].tag not in DATA_TAGS):
        faults.append(f"reply holds {[short(k.tag) for k in kids]}, not ok, data or rpc-error")
    else:
        op = operation_of(sent)
        got = "ok" if kids[0].tag == f"{{{NC}}}ok" else "data"
        # Instance data carries no attributes but with-defaults and origin tags.
        for el in kids[0].iter(etree.Element):
            extra = set(el.attrib) - DATA_ATTRS
            if extra:
                faults.append(f"data holds <{etree.QName(el).localname}> with {sorted(extra)}")
                break
        if op in DATA_OPS and got != "data" or op in OK_OPS and got != "ok":
            faults.append(f"{short(op)} answered with {got}")
        elif op not in DATA_OPS and op not in OK_OPS:
            faults.append(f"success for a request that is no known operation ({short(op)})")
    if sent is None or sent.tag != f"{{{NC}}}rpc" or sent.get("message-id") is None:
        return faults
    if tags == {"malformed-message"}:
        # The agent could not parse it (e.g. past libxml2's depth limit): no attributes
        # are owed, but a message-id it gives must be the client's.
        if r.get("message-id") not in (None, sent.get("message-id")):
            faults.append("malformed-message reply carries a garbled message-id")
        return faults
    for k, v in sent.attrib.items():
        if r.get(k) != v:
            which = "message-id" if k == "message-id" else "an <rpc> attribute"
            faults.append(f"{which} not echoed")
    return faults


# -- the session driver -----------------------------------------------------------------------


def tracebacks(log: str) -> Counter:
    """(first line of the log record, exception line) of every logged traceback."""
    out: Counter = Counter()
    for record in re.split(r"\n(?=\d{4}-\d\d-\d\d )", log):
        if "\nTraceback" in record:
            lines = record.strip().splitlines()
            where = re.sub(r"^\S+ \S+ |(?<=session )\d+", "", lines[0])  # no time, no session
            out[(where, lines[-1])] += 1
    return out


@dataclass
class Finding:
    kind: str
    op: str
    req: Request
    reply: bytes
    count: int = 1


class AgentGone(Exception):
    pass


class Fuzzer:
    def __init__(self, ag: AgentProcess) -> None:
        self.ag = ag
        self.loop = asyncio.new_event_loop()
        self.s: Raw | None = None
        self.side: Raw | None = None
        self.snapshot: tuple[bytes, ...] | None = None  # datastores after the last request
        self.rolled_back = False
        self.n = 0
        self.reopened = 0
        self.findings: dict[tuple[str, str], Finding] = {}
        self.outcomes: Counter = Counter()

    def run(self, coro, timeout: float = 120):
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))

    def close(self) -> None:
        self.drop()
        self.drop(side=True)
        self.loop.run_until_complete(asyncio.sleep(0))
        self.loop.close()

    def drop(self, side: bool = False) -> None:
        # A session's end releases its locks and may drop the candidate's changes.
        self.snapshot = None
        s = self.side if side else self.s
        if s is not None:
            s.close()
        if side:
            self.side = None
        else:
            self.s = None

    def open(self) -> Raw:
        if not self.ag.running:
            raise AgentGone(f"agent exited ({self.ag.proc.returncode})")
        return self.run(Raw.open(self.ag.port), 30)

    def session(self, subscribe: bool = True) -> Raw:
        """The fuzzing session, subscribed to notifications: they come between
        the replies (RFC 5277 interleave) whenever the configuration changes."""
        if self.s is None:
            self.s = self.open()
            if subscribe:
                r = self.run(self.s.call(f'<create-subscription xmlns="{NOTIF}"/>'.encode(), 0))
                assert r.find(f"{{{NC}}}ok") is not None, etree.tostring(r)
        return self.s

    def record(self, kind: str, op: str, req: Request, reply: bytes = b"") -> None:
        # One entry per kind of fault and operation; internal errors by exception
        # and message start; garbled message-ids whatever the operation.
        # Stored data stays wrong after the request that wrote it: keep the first.
        first = kind.startswith("then get-config")
        if "garbled" in kind or "well-formed" in kind or first:
            op = "-"
        key = (re.sub(r"'.*|\d+|<[^>]*>", "", kind)[:60], op)
        f = self.findings.get(key)
        if f is None:
            self.findings[key] = Finding(kind, op, req, reply)
        else:
            f.count += 1
            if len(req.raw) < len(f.req.raw) and not first:
                f.kind, f.req, f.reply = kind, req, reply

    async def _reply(self, s: Raw, timeout: float) -> bytes:
        """The next reply; notes a confirmed commit rolled back meanwhile (by its
        timer: the datastores change between two requests)."""
        while True:
            msg = await s.read(timeout)
            if not msg.startswith(b"<notification"):
                return msg
            if b"netconf-confirmed-commit" in msg and s is self.s:
                self.rolled_back = True

    async def _drain(self, s: Raw, wait: float) -> None:
        """Read notifications until none comes for `wait` seconds."""
        try:
            while True:
                await self._reply(s, wait)
        except (TimeoutError, EOFError):
            pass

    def send(self, req: Request) -> None:
        self.n += 1
        sent = parse_sent(req.raw)
        op = operation_of(sent)
        name = short(op) if op else ("malformed" if sent is None else "envelope")
        closing = op == f"{{{NC}}}close-session"
        pings = [rpc(body, f"ping-{self.n}-{i}") for i, body in enumerate(PINGS)]
        # A session subscribes once: each create-subscription gets a fresh session
        # of its own, kept until the next one, so its filter sees the events.
        side = op == f"{{{NOTIF}}}create-subscription"
        if side:
            self.drop(side=True)
            s = self.side = self.open()
        else:
            s = self.session()
        before, self.rolled_back = self.snapshot, False
        self.snapshot = None

        async def go():
            s.writer.write(req.wire if closing else req.wire + b"".join(map(chunk, pings)))
            try:
                reply = await self._reply(s, REPLY_TIMEOUT)
            except EOFError:
                return None, "session closed without a reply"
            except TimeoutError:
                return None, f"no reply within {REPLY_TIMEOUT}s"
            if closing:
                return reply, None if await s.closed(5) else "close-session left it open"
            state = []
            for ping in pings:
                try:
                    got = await self._reply(s, REPLY_TIMEOUT)
                except EOFError:
                    return reply, "session closed after the reply"
                except TimeoutError:
                    return reply, "next request not answered"
                r = etree.fromstring(got)
                if r.get("message-id") != etree.fromstring(ping).get("message-id"):
                    return reply, "next reply has the wrong message-id"
                for fault in check_reply(parse_sent(ping), got):
                    self.record(f"then get-config: {fault}", name, req, got)
                state.append(etree.tostring(r[0]) if len(r) else b"")
            if not side:
                self.snapshot = tuple(state)
            return reply, None

        try:
            reply, broken = self.run(go())
        except Exception as e:  # e.g. the agent's framing was unreadable
            reply, broken = None, f"client error {type(e).__name__}: {e}"
        if reply is not None:
            faults = check_reply(sent, reply)
            for fault in faults:
                self.record(fault, name, req, reply)
            try:
                kid = etree.fromstring(reply)[0]
            except (etree.XMLSyntaxError, IndexError):
                kid = None
            if kid is not None:
                what = etree.QName(kid).localname
                if what == "rpc-error":
                    what = kid.findtext(f"{{{NC}}}error-tag")
                if not faults:
                    self.outcomes[(name, what)] += 1
                self.check_state(sent, op, name, req, reply, what, before)
        if broken:
            self.record(broken, name, req, reply or b"")
        if broken or closing:
            self.drop(side)
            self.reopened += 1
            if not self.ag.running:
                raise AgentGone(
                    f"agent exited ({self.ag.proc.returncode}) after: {req.raw[:2000]!r}"
                )

    def check_state(self, sent, op, name, req, reply, outcome, before) -> None:
        """Reads, and writes that fail, leave running, candidate and startup as
        they were (RFC 6241: an operation that fails is not applied; only
        continue-on-error keeps what succeeded)."""
        after = self.snapshot
        if before is None or after is None or self.rolled_back or before == after:
            return
        write = op in WRITES and not (
            op == f"{{{NC}}}edit-config"
            and sent.findtext(f"{{{NC}}}test-option", "").strip() == "test-only"
        )
        if write and (outcome in ("ok", "data") or b"continue-on-error" in req.raw):
            return
        if self.s is not None:
            # A rollback's notification may trail the reads that saw it: wait a little.
            self.run(self._drain(self.s, 0.3))
            if self.rolled_back:
                return
        changed = [
            ds
            for ds, b, a in zip(("running", "candidate", "startup"), before, after, strict=True)
            if b != a
        ]
        why = f"failed ({outcome})" if write else f"answered {outcome}"
        self.record(f"{name} {why} but changed {', '.join(changed)}", name, req, reply)

    def report(self) -> str:
        out = []
        for f in sorted(self.findings.values(), key=lambda f: (f.kind, f.op)):
            out.append(
                f"- {f.kind} [{f.op}] x{f.count} ({f.req.note})\n"
                f"    request: {f.req.raw[:1500]!r}\n    reply:   {f.reply[:1500]!r}"
            )
        return "\n".join(out)
