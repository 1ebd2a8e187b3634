"""The libyang context: our module plus the standard modules the agent serves.

Standard IETF/IANA modules are not copied into yang/: pyang ships them under
<prefix>/share/yang/modules, and libyang is pointed there.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import libyang

# The source tree's yang/, or where a non-editable install puts it (pyproject data-files).
_SOURCE_YANG_DIR = Path(__file__).resolve().parents[2] / "yang"
YANG_DIR = (
    _SOURCE_YANG_DIR
    if _SOURCE_YANG_DIR.is_dir()
    else Path(sys.prefix) / "share" / "memif-agent" / "yang"
)
MEMIF_MODULE = "memif-agent"
MEMIF_NS = "urn:memif-agent:yang:memif-agent"

# (module, features enabled). Order matters only for imports,
# which libyang resolves from the search path itself.
SERVED_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Every ietf-netconf feature but :url, which the agent does not implement.
    (
        "ietf-netconf",
        (
            "writable-running",
            "candidate",
            "confirmed-commit",
            "rollback-on-error",
            "validate",
            "startup",
            "xpath",
        ),
    ),
    ("ietf-netconf-with-defaults", ()),
    ("ietf-origin", ()),
    # RFC 8526 get-data/edit-data, with origin metadata on ds:operational.
    ("ietf-netconf-nmda", ("origin", "with-defaults")),
    ("ietf-netconf-monitoring", ()),
    ("ietf-netconf-notifications", ()),
    ("ietf-netconf-acm", ()),
    ("ietf-yang-library", ()),
    ("ietf-interfaces", ()),
    ("iana-if-type", ()),
    (MEMIF_MODULE, ()),
)


def standard_module_dirs() -> list[Path]:
    """Directories holding pyang's copies of the IETF and IANA modules."""
    roots = [Path(sys.prefix), Path(sys.base_prefix)]
    try:
        import pyang

        # pyang's wheel installs data files under <prefix>/share; find that prefix
        # from the package location too, for environments where sys.prefix differs.
        roots.append(Path(pyang.__file__).resolve().parents[4])
    except ImportError:
        pass
    dirs: list[Path] = []
    for root in roots:
        for sub in ("ietf", "iana"):
            d = root / "share" / "yang" / "modules" / sub
            if d.is_dir() and d not in dirs:
                dirs.append(d)
    return dirs


def search_path() -> str:
    return ":".join(str(p) for p in [YANG_DIR, *standard_module_dirs()])


def _set_features(mod: libyang.Module, names: tuple[str, ...]) -> None:
    """Enable exactly `names`, in one call.

    lys_set_implemented() replaces the whole feature set and checks if-feature
    against it, so the binding's one-at-a-time feature_enable() cannot enable a
    feature that depends on another (confirmed-commit needs candidate).
    """
    from _libyang import ffi, lib  # the binding's cffi module

    keep = [ffi.new("char[]", n.encode()) for n in names]
    arr = ffi.new("char *[]", [*keep, ffi.NULL])
    if lib.lys_set_implemented(mod.cdata, arr) != lib.LY_SUCCESS:
        raise mod.context.error(f"cannot enable features {names} of {mod.name()}")


def new_context() -> libyang.Context:
    """A fresh context with every served module loaded and its features set."""
    ctx = libyang.Context(search_path())
    for name, features in SERVED_MODULES:
        mod = ctx.load_module(name)
        if features:
            _set_features(mod, features)
    return ctx


@cache
def shared_context() -> libyang.Context:
    """One context per process: loading the modules costs tens of milliseconds."""
    return new_context()


@cache
def module_prefixes() -> dict[str, str]:
    """Namespace -> module prefix of every module of the shared context (the
    prefixes error-paths of RPC parameters use; "nc" for the base namespace)."""
    from libyang.util import c2str

    return {c2str(m.cdata.ns): m.prefix() for m in shared_context()}


def module_ns(module: libyang.Module) -> str:
    from libyang.util import c2str

    return c2str(module.cdata.ns)
