"""Exit codes scripts can trust, and agent errors as one readable line."""

from __future__ import annotations

OK = 0
REFUSED = 1  # the agent answered with an <rpc-error>
USAGE = 2  # the command line or a command was not understood
CONNECTION = 3  # could not connect or authenticate
BROKEN_PIPE = 141  # stdout closed by the reader: 128 + SIGPIPE, as a shell reports it


class UsageError(Exception):
    """A command that does not parse; message says what was expected."""


def rpc_error_line(err: object) -> str:
    """ncclient's RPCError (or several) as 'error: <message> (<path>)'."""
    errs = getattr(err, "errors", None) or [err]
    lines = []
    for e in errs:
        msg = (getattr(e, "message", None) or str(e)).strip()
        path = (getattr(e, "path", None) or "").strip()
        lines.append(f"error: {msg}" + (f" ({path})" if path else ""))
    return "; ".join(lines)
