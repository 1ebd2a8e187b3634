"""Validation of a whole configuration: typed memif parse, agent rules, libyang.

The typed parse and the rules give readable messages with exact error-paths;
libyang then checks the full document (every served module) against YANG.
"""

from __future__ import annotations

from lxml import etree

from agent.errors import RpcError, RpcErrors
from agent.memif.config import MemifConfig
from agent.memif.config import Q as MEMIF_Q
from agent.yangdata import rules
from agent.yangdata.schema import shared_context


def validate_config(
    config: etree._Element,
    *,
    old: etree._Element | MemifConfig | None = None,
    socket0: str = rules.DEFAULT_SOCKET0,
    typed: MemifConfig | None = None,
) -> MemifConfig:
    """Validate `config` (a <config>/<data> wrapper); returns its typed memif view.

    `old` is the running configuration the change starts from, for rules about
    changes (a socket in use cannot be deleted or renamed). `typed` is config's
    typed view if the caller already has it. Raises RpcErrors.
    """
    cfg = typed if typed is not None else MemifConfig.from_config(config)
    if old is not None and not isinstance(old, MemifConfig):
        old = MemifConfig.from_config(old)
    errors = rules.check(cfg, old, socket0)
    if errors:
        raise RpcErrors(errors)
    libyang_check(config, skip=_TYPED)
    return cfg


# Top-level nodes the typed parse checks completely against the YANG model
# (tests/unit/test_validate_equivalence.py holds it to libyang's verdicts); skipping
# them in libyang keeps a small commit on a large configuration fast.
_TYPED = frozenset({MEMIF_Q + "memif"})


def libyang_check(config: etree._Element, skip: frozenset[str] = frozenset()) -> None:
    """Parse and validate top-level nodes with libyang (strict, config only)."""
    data = b"".join(
        etree.tostring(c) for c in config if isinstance(c.tag, str) and c.tag not in skip
    )
    if not data:
        return
    ctx = shared_context()
    from _libyang import ffi, lib  # the binding's cffi module: structured errors

    inp = ffi.new("struct ly_in **")
    if lib.ly_in_new_memory(data, inp) != lib.LY_SUCCESS:
        raise RpcErrors([RpcError("operation-failed", "cannot read configuration")])
    out = ffi.new("struct lyd_node **")
    try:
        ret = lib.lyd_parse_data(
            ctx.cdata,
            ffi.NULL,
            inp[0],
            lib.LYD_XML,
            lib.LYD_PARSE_STRICT | lib.LYD_PARSE_NO_STATE,
            lib.LYD_VALIDATE_NO_STATE,
            out,
        )
        if ret != lib.LY_SUCCESS:
            errors = []
            err = lib.ly_err_first(ctx.cdata)
            while err:
                msg = ffi.string(err.msg).decode() if err.msg else "invalid configuration"
                path = ffi.string(err.path).decode() if err.path else None
                errors.append(RpcError(_tag_for(msg), msg, path=path))
                err = err.next
            lib.ly_err_clean(ctx.cdata, ffi.NULL)
            raise RpcErrors(errors or [RpcError("invalid-value", "invalid configuration")])
    finally:
        lib.ly_in_free(inp[0], 0)
        if out[0] != ffi.NULL:
            lib.lyd_free_all(out[0])


def _tag_for(message: str) -> str:
    if message.startswith("Mandatory node"):
        return "data-missing"
    # RFC 7950 §8.3.1: a node whose "when" is false is an unknown element.
    if "not found" in message or message.startswith(("Unknown element", "When condition")):
        return "unknown-element"
    return "invalid-value"
