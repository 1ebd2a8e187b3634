"""RPC fuzzing over SSH as 'oper', a user bound by RFC 8341 access control.

Admin (the recovery user) sets up interfaces with distinctive secrets and a /nacm
letting group 'ops' read all but secrets (and /nacm), write only socket 1's
interfaces, and run neither kill-session nor delete-config; then leaves a confirmed
commit pending (persist "fuzz") and a change uncommitted in candidate. Oper sends
probes with the outcome NACM calls for, filter pairs differing only in a guessed
secret (equal replies: a hidden node is as if absent), the rpc_fuzz corpus and
hypothesis mutations of both, judged by rpc_fuzz_oracle. After each request: oper
received no <secret> or <nacm> node, secret or rule name, no event by another user
naming a hidden node; admin's running, candidate and startup are unchanged outside
socket 1's interfaces (else recorded and undone). FUZZ_EXAMPLES/RANDOM/SEED as in
test_rpc_fuzz.py.
"""

from __future__ import annotations

import os
import re
import time

import hypothesis
import pytest
from agent_harness import AgentProcess, Raw, chunk, rpc
from hypothesis import HealthCheck, Phase, given, settings
from lxml import etree
from rpc_fuzz_corpus import CORPUS, DS, NACM, NC, NMDA, NS, OPS
from rpc_fuzz_mutate import Request, requests
from rpc_fuzz_oracle import AgentGone, Finding, Fuzzer, operation_of, parse_sent, short, tracebacks

from agent.ssh.users import hash_password

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("FUZZ_SEED")
RANDOM = os.environ.get("FUZZ_RANDOM") == "1" or SEED is not None
SECRETS = {(0, 1): "Zq9-alpha", (0, 2): "Zq9-bravo", (1, 1): "Zq9-charlie", (2, 1): "Zq9-delta"}
LEAKS = [*SECRETS.values(), "Zq9-echo", "zzr-"]  # secret values; zzr-: NACM rule names
M, XM, A = f'xmlns="{NS}"', f'xmlns:m="{NS}"', f'xmlns="{NACM}"'
RUN, CAND, DENIED = "running", "candidate", "access-denied"
IDS = [f"[m:id='{i}']" for i in range(16)]
SOCK = "<socket><id>{0}</id><filename>/tmp/nf-{0}.sock</filename></socket>"


def itf(s: int, i: int, inner: str = "", attr: str = "") -> str:
    return f"<interface{attr}><socket-id>{s}</socket-id><id>{i}</id>{inner}</interface>"


BASE = SOCK.format(1) + SOCK.format(2) + itf(0, 3)  # memif0/3 has no secret
BASE += "".join(itf(s, i, f"<secret>{v}</secret>") for (s, i), v in SECRETS.items())


def rule(name: str, what: str, ops: str, action: str) -> str:
    ops = f"<access-operations>{ops}</access-operations><action>{action}</action>"
    return f"<rule><name>zzr-{name}</name>{what}{ops}</rule>"


def policy(partial: bool) -> str:
    """RFC 8341 lets key predicates be left out; the fallback names ids 0-15."""
    keys = [f"[m:socket-id='1']{k}" for k in ([""] if partial else IDS)]
    path = f"<module-name>memif-agent</module-name><path {XM}>/m:memif/m:interface%s</path>"
    cud = "create update delete"
    return (
        f"<nacm {A}><read-default>permit</read-default><write-default>deny</write-default>"
        "<exec-default>permit</exec-default><groups><group><name>ops</name><user-name>oper"
        "</user-name></group></groups><rule-list><name>zzr-list</name><group>ops</group>"
        + rule("hide", path % "/m:secret", "read", "deny")
        + "".join(rule(f"s1-{n}", path % k, cud, "permit") for n, k in enumerate(keys))
        + rule("writes", "<module-name>*</module-name><path>/</path>", cud, "deny")
        + rule("kill", "<rpc-name>kill-session</rpc-name>", "exec", "deny")
        + rule("delete", "<rpc-name>delete-config</rpc-name>", "exec", "deny")
        + "</rule-list></nacm>"
    )


def gd(ds: str, extra: str = "", op: str = "get-data") -> str:
    return f'<{op} xmlns="{NMDA}" xmlns:ds="{DS}" {XM}><datastore>ds:{ds}</datastore>{extra}</{op}>'


def edit(ds: str, body: str, nmda: bool = False) -> str:
    cfg = f'<config><memif {M} xmlns:nc="{NC}">{body}</memif></config>'
    if nmda:
        return gd(ds, cfg, "edit-data")
    return f"<edit-config><target><{ds}/></target>{cfg}</edit-config>"


def get(ds: str | None = None, filt: str = "") -> str:  # <get> without ds, else <get-config>
    return (
        f"<get-config><source><{ds}/></source>{filt}</get-config>" if ds else f"<get>{filt}</get>"
    )


SEL = "/m:memif/m:interface[%s]"
HAS = f"<memif {M}><interface><secret>%s</secret></interface></memif>"
SUB, XP = '<filter type="subtree">%s</filter>', f'<filter type="xpath" {XM} select="%s"/>'
PAIRS = [  # (request, the right guess, a wrong one)
    (get(RUN, XP % (SEL % "m:secret='%s'")), "Zq9-alpha", "Zq9-nope"),
    (get(None, XP % (SEL % "m:secret='%s'" + "/m:id")), "Zq9-bravo", "Zq9-nope"),
    (get(RUN, SUB % HAS), "Zq9-charlie", "Zq9-nope"),
    (get(RUN, XP % (SEL % "count(m:secret)=%s")), "1", "7"),
    (get(RUN, XP % (SEL % "string-length(m:secret)=%s")), "9", "77"),
    (gd(RUN, "<xpath-filter>%s</xpath-filter>" % (SEL % "starts-with(m:secret,'%s')")), "Zq", "Q"),
    (gd("operational", f"<subtree-filter>{HAS}</subtree-filter>"), "Zq9-delta", "Zq9-nope"),
]
SELECTS = ("//*", "//m:secret", "//text()", "//@*", "count(//m:secret)", "//*[.='Zq9-alpha']")
READS = [get(), *(get(d) for d in (RUN, CAND, "startup")), *(gd(d) for d in (RUN, CAND, "startup"))]
READS += [gd("operational", "<with-origin/>"), get(RUN, SUB % (HAS % ""))]
READS += [get(d, XP % s) for s in SELECTS for d in (RUN, None)] + [get(None, SUB % f"<nacm {A}/>")]
READS += [gd(CAND, "<xpath-filter>//*</xpath-filter><with-defaults>report-all</with-defaults>")]
CONFIG = "<edit-config><target><running/></target><config>%s</config></edit-config>"
COPY = "<copy-config><target><{}/></target><source><{}/></source></copy-config>"
PROBES = [(r, "data") for r in READS] + [
    (COPY.format(CAND, RUN), DENIED),  # would drop admin's candidate change
    (get(CAND), "data"),
    ("<discard-changes/>", DENIED),  # the same
    ("<cancel-commit><persist-id>fuzz</persist-id></cancel-commit>", DENIED),  # undoes admin's
    (COPY.format("startup", RUN), DENIED),
    (COPY.format(RUN, "startup"), DENIED),
    ("<delete-config><target><startup/></target></delete-config>", DENIED),
    ("<kill-session><session-id>{sid}</session-id></kill-session>", DENIED),
    (CONFIG % f"<nacm {A}><enable-nacm>false</enable-nacm></nacm>", DENIED),
    (edit(RUN, itf(0, 1, "<secret>x</secret>")), DENIED),
    (edit(RUN, itf(0, 1, '<secret nc:operation="create">x</secret>')), DENIED),  # it exists
    (edit(RUN, itf(0, 3, '<secret nc:operation="delete"/>')), DENIED),  # it does not
    (edit(RUN, itf(0, 1, "<ring-size>12</ring-size>", ' nc:operation="replace"')), DENIED),
    (edit(RUN, SOCK.format(1).replace("nf-1", "nf-x")), DENIED),
    (edit(RUN, itf(0, 9), nmda=True), DENIED),
    (edit(RUN, itf(1, 5, "<secret>s5</secret>")), "ok"),
    (edit(RUN, itf(1, 5, "<secret>s6</secret>")), "ok"),
    (edit(RUN, itf(1, 5, "", ' nc:operation="delete"')), "ok"),
    (edit(CAND, itf(1, 6)), "ok"),
    ("<commit><persist-id>fuzz</persist-id></commit>", DENIED),  # would commit admin's change
    ("<lock><target><candidate/></target></lock>", "lock-denied"),  # admin's change
    # admin's confirmed commit is pending: no running lock (RFC 6241 §7.5), so none to undo
    ("<lock><target><running/></target></lock>", "lock-denied"),
    ("<unlock><target><running/></target></unlock>", "operation-failed"),
]
CONFIRM = "<commit><confirmed/><confirm-timeout>600</confirm-timeout><persist>fuzz</persist>%s"
OTHER_RULES = CONFIG % f"<nacm {A}><rule-list><name>zzr-x</name><group>x</group></rule-list></nacm>"


class NacmFuzzer(Fuzzer):
    """The Fuzzer's sessions log in as oper; an admin session checks the datastores."""

    def __init__(self, ag: AgentProcess) -> None:
        super().__init__(ag)
        self.partial, self.ignoring, self.cur = True, False, Request(b"", b"", "setup")
        self.hits: list[tuple[str, bytes]] = []
        self.replies: list[bytes] = []
        self.admin = self.run(Raw.open(ag.port))

    def open(self) -> Raw:
        if not self.ag.running:
            raise AgentGone(f"agent exited ({self.ag.proc.returncode})")
        s = self.run(Raw.open(self.ag.port, username="oper", password="pw-oper"), 30)
        read = s.read

        async def scanned(timeout: float = 10.0) -> bytes:  # everything oper receives
            msg = await read(timeout)
            self.scan(msg)
            return msg

        s.read = scanned
        return s

    def session(self, subscribe: bool = True) -> Raw:
        new, s = self.s is None, super().session(subscribe)
        if new:
            self.replies.clear()  # the create-subscription's reply
        return s

    def scan(self, msg: bytes) -> None:
        raw, text, notif = self.cur.raw, msg.decode(errors="replace"), msg.startswith(b"<notif")
        if self.ignoring:
            return
        if not notif:
            self.replies.append(msg)
        found = [f"a <{m}> node" for m in re.findall(r"<(?:[\w.-]+:)?(secret|nacm)[\s/>]", text)]
        found += [repr(v) for v in LEAKS if v in text and v.encode() not in raw]
        if notif and "<username>oper</username>" not in text:
            hidden = re.findall(r"<target[^>]*>([^<]*(?::secret|-acm:)[^<]*)<", text)
            found += [f"an event naming {t}" for t in hidden]
        elif not notif and ":secret" in text and b"secret" not in raw:
            found.append("the path of a secret it did not name")
        self.hits += [(f"oper received {f}", msg) for f in found]

    def call(self, body: str) -> bytes:
        self.admin.send(rpc(body.encode(), "admin"))
        return self.run(self.admin.read(30))

    def state(self) -> tuple[bytes, ...]:
        """Admin's view of the three datastores but the interfaces oper may write."""
        out = []
        for ds in (RUN, CAND, "startup"):
            data = etree.fromstring(self.call(get(ds)))[0]
            for el in data.iterfind(f".//{{{NS}}}interface"):
                sid, iid = el.findtext(f"{{{NS}}}socket-id"), el.findtext(f"{{{NS}}}id")
                if sid == "1" and (self.partial or f"[m:id='{iid}']" in IDS):
                    el.getparent().remove(el)
            out.append(etree.tostring(data, method="c14n"))
        return tuple(out)

    def restore(self) -> None:
        """Admin sets everything up (again) once oper's sessions (and locks) are gone."""
        self.ignoring = True
        for side in (True, False):
            self.drop(side=side)
            time.sleep(0.1)
        cfg = f"<config><memif {M}>{BASE}</memif>{policy(self.partial)}</config>"
        for body in (
            "<discard-changes/>",
            f"<copy-config><target><running/></target><source>{cfg}</source></copy-config>",
            f"<copy-config><target><startup/></target><source>{cfg}</source></copy-config>",
            "<discard-changes/>",
            edit(CAND, SOCK.format(4)),
            CONFIRM % "<persist-id>fuzz</persist-id></commit>",  # extends admin's, if pending
            edit(CAND, SOCK.format(3)),
        ):
            r = self.call(body)
            if body.startswith("<commit") and b"<ok/>" not in r:
                r = self.call(CONFIRM % "</commit>")
            assert b"<ok/>" in r, (body, r)
        self.baseline = self.state()
        self.ignoring = False

    def send(self, req: Request) -> bytes | None:
        """Sends as oper, checks what oper received and the datastores; returns the reply."""
        self.cur, self.hits, self.replies = req, [], []
        super().send(req)
        for kind, msg in self.hits:
            self.record(kind, self.name(req), req, msg)
        after = self.state()
        if after != self.baseline:
            diff = zip((RUN, CAND, "startup"), self.baseline, after, strict=True)
            what = ", ".join(ds for ds, b, a in diff if b != a)
            self.record(f"oper changed {what} outside socket 1's interfaces", self.name(req), req)
            self.restore()
        return self.replies[0] if self.replies else None

    @staticmethod
    def name(req: Request) -> str:
        sent = parse_sent(req.raw)
        return short(operation_of(sent)) if sent is not None else "malformed"


def outcome(reply: bytes | None) -> str:
    try:
        kid = etree.fromstring(reply)[0]
    except (etree.XMLSyntaxError, IndexError, ValueError):
        return "no reply"
    error = kid.tag == f"{{{NC}}}rpc-error"
    return kid.findtext(f"{{{NC}}}error-tag") if error else etree.QName(kid).localname


@pytest.fixture(scope="module")
def ag(tmp_path_factory):
    d = tmp_path_factory.mktemp("rpc-fuzz-nacm")
    users = f"admin:{hash_password('admin')}::admin\noper:{hash_password('pw-oper')}::\n"
    (d / "users").write_text(users)
    (d / "users").chmod(0o600)
    a = AgentProcess(d / "agent", "--no-dataplane", "--users", str(d / "users")).start()
    yield a
    a.stop()


@pytest.mark.timeout(max(300, EXAMPLES // 4))
def test_fuzz_as_nacm_restricted_user(ag) -> None:
    fz = NacmFuzzer(ag)

    def send(body: str, mid="probe") -> tuple[Request, bytes | None]:
        raw = rpc(body.replace("{sid}", fz.admin.session_id).encode(), mid)
        return (req := Request(chunk(raw), raw, "probe")), fz.send(req)

    s = dict(deadline=None, database=None, phases=[Phase.generate], print_blob=False)
    s.update(max_examples=EXAMPLES, derandomize=not RANDOM, suppress_health_check=list(HealthCheck))

    @settings(**s)
    @given(req=requests())
    def fuzz(req: Request) -> None:
        fz.send(req)

    if SEED is not None:
        fuzz = hypothesis.seed(int(SEED))(fuzz)
    corpus = OPS[:]  # mutations draw from the corpus and the probes for the run
    OPS.extend(etree.fromstring(rpc(body.encode(), 1))[0] for body, *_ in PAIRS + PROBES)
    try:
        r = fz.call(CONFIG % policy(True))
        if b"<ok/>" not in r:
            # RFC 8341 makes key predicates optional, but libyang 2's check of the
            # node-instance-identifier type wants every key once one is given
            # (docs/security.md): rules naming all keys stand in for it.
            assert b"Predicate missing for a key" in r, r
            fz.partial = False
        fz.restore()
        fz.session()  # oper, subscribed to all events, while admin changes a secret and /nacm
        fz.cur = Request(b"", b"(admin edits running)", "admin change")
        for body in (edit(RUN, itf(0, 1, "<secret>Zq9-echo</secret>")), OTHER_RULES):
            assert b"<ok/>" in fz.call(body), body
        fz.run(fz._drain(fz.s, 0.5))
        for kind, msg in fz.hits:
            fz.record(kind, "notification", fz.cur, msg)
        fz.restore()
        for body, right, wrong in PAIRS:
            (req, a), (_, b) = send(body % right), send(body % wrong)
            if a != b:
                what = "a filter on a hidden secret selects by its value"
                fz.record(what, fz.name(req), req, b"%s\n    vs %s" % (a, b))
        for body, want in PROBES:
            req, reply = send(body)
            if outcome(reply) != want:
                fz.record(f"answered {outcome(reply)}, not {want}", fz.name(req), req, reply or b"")
        for i, body in enumerate(CORPUS, 1):
            send(body, i)
        fuzz()
        if b"<data" not in fz.call(get(RUN)):
            fz.record("the admin session is broken", "-", Request(b"", b"", "after the run"))
    except AgentGone as e:
        pytest.fail(f"{e}\n{ag.log()[-5000:]}")
    finally:
        OPS[:] = corpus
        fz.admin.close()
        fz.close()
    assert ag.running, ag.log()[-5000:]
    for (where, exc), count in tracebacks(ag.log()).items():
        tb = Finding(f"traceback x{count}: {where}", "-", Request(b"", b"", where), exc.encode())
        fz.findings[("traceback", where + exc)] = tb
    assert not fz.findings, f"{len(fz.findings)} kinds of fault in {fz.n} requests:\n{fz.report()}"
