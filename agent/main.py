"""The `memif-agent` command: NETCONF over SSH for memif interfaces."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from agent import config_file, service

log = logging.getLogger("memif-agent")

DEFAULT_SOCKET0 = "/run/vpp/memif.sock"


def default_state_dir() -> Path:
    if os.geteuid() == 0:
        return Path("/var/lib/memif-agent")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "memif-agent"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="memif-agent",
        description="NETCONF/YANG agent for memif interfaces (NETCONF over SSH, RFC 6242).",
    )
    p.add_argument("--address", default="127.0.0.1", help="listen address (default %(default)s)")
    p.add_argument(
        "--port",
        type=int,
        default=8830,
        help="listen port (default %(default)s; 0 picks a free port)",
    )
    p.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="datastores, host key and users file (default: /var/lib/memif-agent "
        "as root, else ~/.local/state/memif-agent)",
    )
    p.add_argument(
        "--host-key",
        type=Path,
        default=None,
        help="SSH host private key (default STATE_DIR/ssh_host_ed25519_key; "
        "an ed25519 key is generated if missing)",
    )
    p.add_argument(
        "--users",
        type=Path,
        default=None,
        help="users file (default STATE_DIR/users; created with admin/admin)",
    )
    p.add_argument(
        "--socket0",
        default=DEFAULT_SOCKET0,
        help="file name of the built-in memif socket 0 (default %(default)s)",
    )
    p.add_argument(
        "--recovery-user",
        default="admin",
        help="user whose sessions bypass NACM (RFC 8341 recovery session; default %(default)s)",
    )
    p.add_argument(
        "--socket-mode",
        type=lambda v: int(v, 8),
        default=None,
        help="file mode of memif socket files the agent listens on, e.g. 660",
    )
    p.add_argument("--socket-owner", default=None, help="owner (name or uid) of socket files")
    p.add_argument("--socket-group", default=None, help="group (name or gid) of socket files")
    p.add_argument(
        "--no-dataplane",
        action="store_true",
        help="serve NETCONF without starting the memif dataplane",
    )
    p.add_argument(
        "--dataplane-heartbeat",
        type=float,
        default=0.2,
        help="seconds between heartbeats to the dataplane process (default %(default)s)",
    )
    p.add_argument(
        "--dataplane-timeout",
        type=float,
        default=1.0,
        help="a dataplane process that leaves a heartbeat or control call unanswered "
        "this long is taken as hung, killed and restarted (default %(default)s s)",
    )
    p.add_argument(
        "--dataplane-restart-delay",
        type=float,
        default=0.1,
        help="seconds before the first restart of a lost dataplane process; doubles "
        "on each loss in a row, up to 5 s (default %(default)s)",
    )
    p.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="(default %(default)s)",
    )
    p.add_argument(
        "--max-sessions",
        type=int,
        default=64,
        help="concurrent NETCONF sessions (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-message-size",
        type=int,
        default=32 * 1024 * 1024,
        help="largest accepted NETCONF message in bytes; a bigger one closes the "
        "session (default %(default)s)",
    )
    p.add_argument(
        "--max-input-buffer",
        type=int,
        default=128 * 1024 * 1024,
        help="bytes of unfinished input all sessions together may hold; the session "
        "taking the total over it is closed (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-startups",
        type=int,
        default=64,
        help="SSH connections not yet authenticated; more are closed at once "
        "(default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-elements",
        type=int,
        default=500_000,
        help="elements in one message (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-attributes",
        type=int,
        default=64,
        help="attributes on one element (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-filter-elements",
        type=int,
        default=10_000,
        help="elements in one subtree filter (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--max-xpath-length",
        type=int,
        default=4096,
        help="characters in one XPath filter (default %(default)s; 0 = unlimited)",
    )
    p.add_argument(
        "--xpath-budget",
        type=int,
        default=2_000_000,
        help="estimated node visits one XPath filter may cost on the data it runs "
        "on; a costlier one is refused before it runs (default %(default)s)",
    )
    p.add_argument(
        "--max-xpath-depth",
        type=int,
        default=32,
        help="nesting of predicates, parentheses and function calls in one XPath "
        "filter (default %(default)s)",
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=3600,
        help="close sessions idle this many seconds (default %(default)s; 0 = never;"
        " sessions with a notification subscription are never idle)",
    )
    p.add_argument(
        "--hello-timeout",
        type=float,
        default=30,
        help="close sessions that send no <hello> in time (default %(default)s)",
    )
    p.add_argument(
        "--keepalive",
        type=float,
        default=30,
        help="SSH keepalive interval; 3 unanswered probes drop the session and "
        "free its locks (default %(default)s s; 0 = off)",
    )
    p.add_argument(
        "--login-timeout",
        type=float,
        default=30,
        help="SSH authentication time limit (default %(default)s)",
    )
    p.add_argument(
        "--login-delay",
        type=float,
        default=0.5,
        help="back-off per recent failed password login of a user name or address, "
        "up to 10 times this (default %(default)s s; 0 = none)",
    )
    p.add_argument(
        "--login-max-failures",
        type=int,
        default=10,
        help="failed password logins (per user name, per address) within 60 s that "
        "lock it out (default %(default)s; 0 = never)",
    )
    p.add_argument(
        "--login-lockout",
        type=float,
        default=300,
        help="seconds a locked-out user name or address is refused (default %(default)s)",
    )
    p.add_argument(
        "--hash-password",
        action="store_true",
        help="read a password from stdin, print its hash for the users file, exit",
    )
    config_file.add_arguments(p)
    service.add_arguments(p)
    from agent.restconf import options as restconf_options

    restconf_options.add_arguments(p)
    return p


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Options from the command line over the configuration file. Raises ConfigError."""
    opts = config_file.parse_args(build_parser(), argv)
    if opts.state_dir is None:
        opts.state_dir = default_state_dir()
    opts.state_dir = opts.state_dir.expanduser().resolve()
    if opts.host_key is None:
        opts.host_key = opts.state_dir / "ssh_host_ed25519_key"
    if opts.users is None:
        opts.users = opts.state_dir / "users"
    return opts


def prepare_state(opts: argparse.Namespace) -> None:
    """State dir 0700, host key 0600 and a users file exist after this."""
    opts.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    mode = opts.state_dir.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("state directory %s has mode %o; tightening to 0700", opts.state_dir, mode)
        os.chmod(opts.state_dir, 0o700)
    if not opts.host_key.exists():
        import asyncssh

        key = asyncssh.generate_private_key("ssh-ed25519")
        opts.host_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(opts.host_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
        log.info("generated SSH host key %s (%s)", opts.host_key, key.get_fingerprint())
    else:
        kmode = opts.host_key.stat().st_mode & 0o777
        if kmode & 0o077:
            log.warning("host key %s has mode %o; tightening to 0600", opts.host_key, kmode)
            os.chmod(opts.host_key, 0o600)
    if not opts.users.exists():
        from agent.ssh.users import write_default_users

        write_default_users(opts.users)
        log.warning(
            "created users file %s with user 'admin', password 'admin': "
            "change it (memif-agent --hash-password)",
            opts.users,
        )


def raise_nofile_limit() -> None:
    """Soft RLIMIT_NOFILE up to the hard limit: the soft default (1024) is below
    what --max-sessions and --max-startups may hold, next to memif sockets."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as e:
            log.warning("cannot raise RLIMIT_NOFILE from %d to %d: %s", soft, hard, e)
            return
    log.info("RLIMIT_NOFILE %d", hard)


async def serve(opts: argparse.Namespace) -> None:
    from agent.app import build_server
    from agent.ssh import transport

    server = build_server(opts)
    await server.startup()
    guard = transport.login_guard(opts)
    acceptor = await transport.start(server, opts.host_key, guard)
    sockets = acceptor.sockets if hasattr(acceptor, "sockets") else []
    addrs = [s.getsockname() for s in sockets] or [(opts.address, opts.port)]
    for addr in addrs:
        # Logged whatever the log level: tests/support/agent_harness.py and scripts wait
        # for this line and read the port from it.
        log.log(max(logging.INFO, log.getEffectiveLevel()), "listening on %s:%d", addr[0], addr[1])
    restconf = None
    if getattr(opts, "restconf_port", None) is not None:
        from agent.restconf import app as restconf_app
        from agent.restconf.core import ServerCore

        core = ServerCore(server, guard)
        restconf = await restconf_app.start(core, opts, opts.host_key.parent)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    service.handle_sighup(loop, server.users)
    # Listeners and dataplane are up: a Type=notify unit becomes active now.
    service.ready(f"listening on {addrs[0][0]}:{addrs[0][1]}")
    await stop.wait()
    service.stopping()
    log.info("shutting down")
    acceptor.close()
    if restconf is not None:
        await restconf.cleanup()
    await server.shutdown()


def main(argv: list[str] | None = None) -> int:
    try:
        opts = parse_args(argv)
    except config_file.ConfigError as e:
        print(f"memif-agent: {e}", file=sys.stderr)
        return 2
    if opts.check_config:
        return config_file.check(opts)
    if opts.hash_password:
        from agent.ssh.users import hash_password

        if sys.stdin.isatty():
            import getpass

            password = getpass.getpass("password: ")
        else:
            password = sys.stdin.readline().rstrip("\n")
        if not password:
            print("empty password", file=sys.stderr)
            return 2
        print(hash_password(password))
        return 0
    service.configure_logging(opts)
    # asyncssh logs every channel open/close at info; that is debug detail here.
    logging.getLogger("asyncssh").setLevel(
        logging.DEBUG if opts.log_level == "debug" else logging.WARNING
    )
    raise_nofile_limit()
    try:
        prepare_state(opts)
    except OSError as e:
        log.error("cannot prepare state directory %s: %s", opts.state_dir, e)
        return 1
    try:
        asyncio.run(serve(opts))
    except OSError as e:
        log.error("%s", e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
