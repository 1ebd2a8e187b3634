"""Every reply in which the agent and yuma123 netconfd 2.13 differ after
normalisation, with the RFC text that makes the agent right (or, where the RFC
leaves the choice to the server, why the agent's choice is kept).
docs/conformance.md lists the same; test_differential_netconfd.py fails on any
difference not here, and on any listed one that no longer occurs."""

from __future__ import annotations

# "sequence#step" (steps counted from 0) -> why the agent's reply stands.
KNOWN: dict[str, str] = {
    "candidate-lock-own-changes#1": (
        "RFC 6241 §7.5: no lock on a candidate with uncommitted changes; the agent "
        "refuses with lock-denied and names the session that made them (error-info "
        "session-id), netconfd says resource-denied (App. A: insufficient resources), "
        "which is not what happened"
    ),
    "candidate-lock-own-changes#2": "as candidate-lock-own-changes#1, asked by another session",
    "commit-under-candidate-lock#4": (
        "both in-use; netconfd adds error-path /nc:rpc/nc:edit-config/nc:config. The "
        "error is about the target datastore's lock, not an element of the payload "
        "(RFC 6241 §4.3: error-path only when a payload element is at fault)"
    ),
    "confirmed-commit-cancel#5": (
        "cancel-commit with no confirmed commit pending: RFC 6241 §8.4.4.1 names no "
        "error-tag; the agent says invalid-value (the request names a commit that does "
        "not exist), as it does for a persist-id that matches no pending commit"
    ),
    "default-operation-none#0": (
        "both data-missing; the agent's error-path is the missing list entry "
        "(socket[id='7']), netconfd's the memif container, a non-presence container "
        "that always exists (RFC 7950 §7.5.1) — RFC 6241 §7.2 none: the missing level"
    ),
    "default-operation-none#2": (
        'an explicit nc:operation="create" under default-operation none inside the '
        "non-presence memif container: RFC 6241 §7.2 applies create to the socket; the "
        "container has no existence of its own to be missing (RFC 7950 §7.5.1). "
        "netconfd refuses with data-missing"
    ),
    "default-operation-none#3": "consequence of default-operation-none#2 (the socket exists)",
    "error-paths#1": (
        "kill-session of an unknown session: both invalid-value; the agent gives the "
        "error-path of the session-id parameter (RFC 6241 §4.3: present whenever a "
        "payload element is associated with the error)"
    ),
    "error-paths#2": (
        "kill-session without session-id: RFC 6241 App. A missing-element (with "
        "bad-element); netconfd says data-missing with error-type protocol, which "
        "App. A allows only as application"
    ),
    "locks#2": (
        "unlock of a lock held by another session: RFC 6241 §7.6 makes it fail; the "
        "agent says lock-denied with the holder's session-id (App. A lock-denied: the "
        "lock is held by another entity), netconfd in-use without naming the holder"
    ),
    "rpc-level#0": (
        "unknown operation namespace: both unknown-namespace; netconfd sends "
        "error-type rpc, which RFC 6241 App. A does not allow for it (protocol or "
        "application)"
    ),
    "rpc-level#1": (
        "get-config without source: RFC 6241 App. A missing-element; netconfd says "
        "data-missing with error-type protocol (App. A: application only)"
    ),
    "rpc-level#2": (
        "two datastores in <source>: both unknown-element at .../source/running; "
        "the agent's bad-element is the unexpected element (running), as App. A "
        "defines it; netconfd names the YANG choice (config-source), not an element"
    ),
    "rpc-level#3": (
        "get-schema of a module the server does not have: RFC 6022 §3.1 says "
        "invalid-value; netconfd says operation-failed"
    ),
    "running-lock-during-confirmed-commit#2": (
        "RFC 6241 §7.5: the running lock MUST NOT be granted while another session's "
        "confirmed commit is pending; both refuse, the agent with lock-denied and the "
        "confirming session's id (App. A: lock-denied carries session-id), netconfd "
        "with in-use"
    ),
    "startup#5": (
        "copy-config with the same source and target: RFC 6241 §7.3 says invalid-value; "
        "netconfd says operation-not-supported"
    ),
    "subtree-union#2": (
        "two filter fragments with the same root: RFC 6241 §6.3 makes the result "
        "the union of their selections, one memif container; netconfd returns the "
        "container twice, which is not valid instance data (RFC 7950 §7.5.7)"
    ),
    "unknown-rpc-content#3": (
        "<filter> in an unknown namespace: both unknown-namespace; the agent adds the "
        "error-path of the operation it appears in (RFC 6241 §4.3)"
    ),
    "unknown-rpc-content#9": (
        "unknown attribute on <get-config>: both unknown-attribute; the agent adds the "
        "error-path of the element at fault (RFC 6241 §4.3)"
    ),
    "validate#3": (
        "netconfd 2.13 bug: <validate> of the candidate before <commit> drops the "
        "change, so its running stays empty; RFC 6241 §8.6 validate changes nothing"
    ),
    "when-false#0": (
        "rx-queues with role server: its when is false; RFC 7950 §8.3.1 requires "
        "unknown-element; netconfd accepts the edit"
    ),
    "when-false#2": (
        "consequence of when-false#0 (netconfd committed the interface; the agent refused the edit)"
    ),
}
