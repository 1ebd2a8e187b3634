"""RFC 6241 <rpc-error> as a Python exception.

Every layer raises RpcError; only the session layer turns it into XML, so the
error fields (type, tag, path, message) are decided where the fault is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

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

    def to_xml(self, nsmap: dict[str, str] | None = None) -> etree._Element:
        """Build the <rpc-error> element; nsmap gives prefixes used in error-path."""
        q = f"{{{NC_NS}}}"
        err = etree.Element(q + "rpc-error", nsmap={None: NC_NS})
        etree.SubElement(err, q + "error-type").text = self.type
        etree.SubElement(err, q + "error-tag").text = self.tag
        etree.SubElement(err, q + "error-severity").text = self.severity
        if self.app_tag:
            etree.SubElement(err, q + "error-app-tag").text = self.app_tag
        if self.path:
            p = etree.SubElement(err, q + "error-path", nsmap=nsmap or None)
            p.text = self.path
        msg = etree.SubElement(err, q + "error-message")
        msg.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        msg.text = self.message
        if self.info:
            info = etree.SubElement(err, q + "error-info")
            for tag, text in self.info:
                etree.SubElement(info, q + tag).text = text
        return err


class RpcErrors(Exception):
    """Several <rpc-error>s in one reply (continue-on-error, validation)."""

    def __init__(self, errors: list[RpcError]) -> None:
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors
