"""The libyang context: our module plus the standard modules the agent serves.

Standard IETF/IANA modules are not copied into yang/: pyang ships them under
<prefix>/share/yang/modules, and libyang is pointed there.
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

import libyang

YANG_DIR = Path(__file__).resolve().parent.parent / "yang"
MEMIF_MODULE = "memif-agent"
MEMIF_NS = "urn:memif-agent:yang:memif-agent"

# (module, features): "*" enables all, "-name" then disables one. Order matters only for imports,
# which libyang resolves from the search path itself.
SERVED_MODULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # Every ietf-netconf feature but :url, which the agent does not implement.
    ("ietf-netconf", ("*", "-url")),
    ("ietf-netconf-with-defaults", ()),
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


def new_context() -> libyang.Context:
    """A fresh context with every served module loaded and its features set."""
    ctx = libyang.Context(search_path())
    for name, features in SERVED_MODULES:
        mod = ctx.load_module(name)
        for feature in features:
            # libyang checks if-feature at each call, so enable all first and
            # then take away ("-name") rather than enabling one by one.
            if feature == "*":
                mod.feature_enable_all()
            elif feature.startswith("-"):
                mod.feature_disable(feature[1:])
            else:
                mod.feature_enable(feature)
    return ctx


@cache
def shared_context() -> libyang.Context:
    """One context per process: loading the modules costs tens of milliseconds."""
    return new_context()
