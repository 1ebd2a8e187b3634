"""The agent's optional TOML configuration file: every command-line option, flags win.

The keys are the long option names without the dashes, taken from the argument
parser itself, so an option added to the parser is a key of the file at once:

    address = "0.0.0.0"
    port = 830
    state-dir = "/var/lib/memif-agent"
    socket-mode = "660"        # the flag's own text form: octal
    no-dataplane = false       # a switch is a boolean
    log-level = "info"

A value is checked exactly as the flag's text would be (its `type` and
`choices`); a number or boolean may be written as a TOML number or boolean.
Unknown keys, tables and wrong kinds are errors that name the key.
"""

from __future__ import annotations

import argparse
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path("/etc/memif-agent/agent.toml")
# Options that select what the command does rather than how the agent runs.
NOT_IN_FILE = frozenset({"help", "config", "check_config", "hash_password"})
MAX_FILE_SIZE = 1 << 20


class ConfigError(Exception):
    """The configuration file cannot be read or holds a bad value; says which."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML file holding any of these options by long name (default {DEFAULT_PATH}"
        " if it exists); flags override it",
    )
    p.add_argument(
        "--check-config",
        action="store_true",
        help="validate the configuration file and options, report, exit (0 if valid)",
    )


def file_options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """TOML key -> the parser's action for it."""
    keys: dict[str, argparse.Action] = {}
    for action in parser._actions:  # argparse has no public list of its actions
        if action.dest in NOT_IN_FILE or action.dest is argparse.SUPPRESS:
            continue
        longs = [o for o in action.option_strings if o.startswith("--")]
        if longs:
            keys[longs[0][2:]] = action
    return keys


def _flag_text(key: str, value: Any) -> str:
    if isinstance(value, bool):
        raise ConfigError(f"{key}: expected a value, not a boolean")
    if isinstance(value, int | float | str):
        return str(value)
    raise ConfigError(f"{key}: expected a string or a number, not {type(value).__name__}")


def _convert(key: str, action: argparse.Action, value: Any) -> Any:
    if isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction):
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, not {value!r}")
        return action.const if value else action.default
    if isinstance(action, argparse._StoreAction) and action.nargs is None:
        text = _flag_text(key, value)
        try:
            converted = action.type(text) if action.type else text
        except (TypeError, ValueError, argparse.ArgumentTypeError) as e:
            raise ConfigError(f"{key}: invalid value {value!r} ({e})") from None
        if action.choices is not None and converted not in action.choices:
            choices = ", ".join(map(repr, action.choices))
            raise ConfigError(f"{key}: {value!r} is not one of {choices}")
        return converted
    if isinstance(action, argparse._StoreAction | argparse._AppendAction):
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list")
        sub = argparse._StoreAction(
            action.option_strings, action.dest, type=action.type, choices=action.choices
        )
        return [_convert(key, sub, v) for v in value]
    raise ConfigError(f"{key}: this option cannot be set in the configuration file")


def load(path: Path, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """The file's options as parser defaults (dest -> value). Raises ConfigError."""
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_SIZE + 1)
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror or e}") from None
    if len(raw) > MAX_FILE_SIZE:
        raise ConfigError(f"{path}: larger than {MAX_FILE_SIZE} bytes")
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    known = file_options(parser)
    defaults: dict[str, Any] = {}
    for key, value in table.items():
        action = known.get(key)
        if action is None:
            raise ConfigError(f"{path}: unknown option {key!r}; known: {', '.join(sorted(known))}")
        try:
            defaults[action.dest] = _convert(key, action, value)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
    return defaults


def parse_args(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line over the configuration file's values.

    The file is --config's, else DEFAULT_PATH if it exists. Sets opts.config to
    the file used (None if none). Raises ConfigError.
    """
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--config", type=Path, default=None)
    known, _ = pre.parse_known_args(argv)
    path = known.config
    if path is None and os.path.exists(DEFAULT_PATH):
        path = DEFAULT_PATH
    if path is not None:
        parser.set_defaults(**load(path, parser))
    opts = parser.parse_args(argv)
    opts.config = path
    return opts


def check(opts: argparse.Namespace) -> int:
    """--check-config, once the options parsed: check the files they name; exit status."""
    problems = []
    if opts.users.exists():
        from agent.ssh.users import UserDB

        try:
            UserDB(opts.users)
        except (OSError, ValueError) as e:
            problems.append(f"users file {opts.users}: {e}")
    if opts.host_key.exists():
        import asyncssh

        try:
            asyncssh.read_private_key(opts.host_key)
        except (OSError, ValueError, asyncssh.KeyImportError) as e:
            problems.append(f"host key {opts.host_key}: {e}")
    for p in problems:
        print(f"memif-agent: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"configuration OK ({opts.config or 'no configuration file'})")
    return 0
