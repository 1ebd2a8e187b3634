"""RFC 6241 <rpc-error> as a Python exception.

Every layer raises RpcError; only a front end turns it into its wire form
(agent.netconf.session for NETCONF XML), so the error fields (type, tag, path,
message) are decided where the fault is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NC_NS = "urn:ietf:params:xml:ns:netconf:base:1.0"

# RFC 6241 appendix A: the error-tags and the error-types each may carry.
ERROR_TAGS = frozenset(
    {
        "in-use",
        "invalid-value",
        "too-big",
        "missing-attribute",
        "bad-attribute",
        "unknown-attribute",
        "missing-element",
        "bad-element",
        "unknown-element",
        "unknown-namespace",
        "access-denied",
        "lock-denied",
        "resource-denied",
        "rollback-failed",
        "data-exists",
        "data-missing",
        "operation-not-supported",
        "operation-failed",
        "partial-operation",
        "malformed-message",
    }
)
ERROR_TYPES = frozenset({"transport", "rpc", "protocol", "application"})


@dataclass
class RpcError(Exception):
    """One <rpc-error>. `info` holds <error-info> children as (tag, text) pairs."""

    tag: str
    message: str
    type: str = "application"
    path: str | None = None
    severity: str = "error"
    app_tag: str | None = None
    info: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.tag not in ERROR_TAGS:
            raise ValueError(f"not an RFC 6241 error-tag: {self.tag}")
        if self.type not in ERROR_TYPES:
            raise ValueError(f"not an RFC 6241 error-type: {self.type}")
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.type}/{self.tag}{where}: {self.message}"


class RpcErrors(Exception):
    """Several <rpc-error>s in one reply (continue-on-error, validation)."""

    def __init__(self, errors: list[RpcError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
