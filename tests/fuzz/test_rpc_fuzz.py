"""Mutation fuzzing of RPC handling over one real SSH session (no mocks).

One agent (--no-dataplane) and one NETCONF session serve the whole run, in
three phases: every request of a corpus of valid ones (all operations the
agent serves, rpc_fuzz_corpus) as it is; a sweep giving each leaf and
attribute of the corpus, in turn, a few values that break parsers and each
element an unknown attribute; then hypothesis mutating the corpus (elements,
values, attributes, the <rpc> envelope and now and then the bytes;
rpc_fuzz_mutate).

Each reply is checked against RFC 6241 (sections 4.1-4.3, appendix A) and the
session, the agent's log and the three datastores after each request are
checked too (rpc_fuzz_oracle). Findings are collected, the shortest request
for each kind of fault, and reported together at the end.

Longer hunts: FUZZ_EXAMPLES=3000 FUZZ_RANDOM=1 (FUZZ_SEED=n to replay one);
FUZZ_VERBOSE=1 prints which operations succeeded or failed how often.
"""

from __future__ import annotations

import os
import time

import hypothesis
import pytest
from agent_harness import AgentProcess, chunk, rpc
from hypothesis import HealthCheck, Phase, given, settings
from lxml import etree
from rpc_fuzz_corpus import CORPUS, NC
from rpc_fuzz_mutate import Request, requests, sweep
from rpc_fuzz_oracle import AgentGone, Finding, Fuzzer, tracebacks

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
SEED = os.environ.get("FUZZ_SEED")
RANDOM = os.environ.get("FUZZ_RANDOM") == "1" or SEED is not None
VERBOSE = os.environ.get("FUZZ_VERBOSE") == "1"


@pytest.fixture(scope="module")
def ag(tmp_path_factory):
    a = AgentProcess(tmp_path_factory.mktemp("rpc-fuzz"), "--no-dataplane").start()
    yield a
    a.stop()


def _settings():
    s = settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=not RANDOM,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )
    return s


@pytest.mark.timeout(max(300, EXAMPLES // 4))
def test_mutated_rpcs_get_rfc6241_replies(ag) -> None:
    fz = Fuzzer(ag)
    t0 = time.monotonic()

    @_settings()
    @given(req=requests())
    def fuzz(req: Request) -> None:
        fz.send(req)

    if SEED is not None:
        fuzz = hypothesis.seed(int(SEED))(fuzz)
    try:
        # Every corpus request as it is first: the valid baseline (message-ids 1, 2, ...).
        for i, body in enumerate(CORPUS, 1):
            raw = rpc(body.encode(), i)
            fz.send(Request(chunk(raw), raw, "corpus"))
        if VERBOSE:
            print("\ncorpus:", sorted(fz.outcomes.items()))
        for req in sweep():
            fz.send(req)
        fuzz()
        # Afterwards: the agent is alive, a fresh session reads running, and
        # running still passes validation.
        fz.drop()
        s = fz.session(subscribe=False)
        for body, want in (
            (b"<get-config><source><running/></source></get-config>", "data"),
            (b"<validate><source><running/></source></validate>", "ok"),
        ):
            r = fz.run(s.call(body, "final"))
            if r.find(f"{{{NC}}}{want}") is None:
                final = Request(chunk(rpc(body, "final")), rpc(body, "final"), "after the run")
                fz.record(f"after the run, no <{want}>", "final", final, etree.tostring(r))
    except AgentGone as e:
        pytest.fail(f"{e}\n{ag.log()[-5000:]}")
    finally:
        fz.close()
    elapsed = time.monotonic() - t0
    if VERBOSE:
        print(f"\n{fz.n} requests in {elapsed:.1f}s, session reopened {fz.reopened} times")
        for (name, what), count in sorted(fz.outcomes.items()):
            print(f"  {name:24} {what:28} {count}")
    assert ag.running, ag.log()[-5000:]
    # Tracebacks: handler failures (also seen as "internal error" replies) and any
    # the client cannot see (notification routing, timers, hooks).
    seen = " ".join(f.kind for f in fz.findings.values())
    for (where, exc), count in tracebacks(ag.log()).items():
        if exc[:100] in seen:
            continue  # already reported as an "internal error" reply
        fz.findings[("traceback", where + exc)] = Finding(
            f"agent logged a traceback x{count}: {where}",
            "-",
            Request(b"", b"", where),
            exc.encode(),
        )
    assert not fz.findings, f"{len(fz.findings)} kinds of fault in {fz.n} requests:\n{fz.report()}"
