"""memifctl: TNSR-style memif commands against a memif-agent over NETCONF.

  memifctl                          interactive shell (tab completion, '?' help)
  memifctl show interface memif     one command
  memifctl 'interface memif socket 23 interface 100; role server; enable; exit; commit'
  echo 'show interface memif' | memifctl   commands from standard input

Configuration commands need 'configure' in the shell; a command line or a script
may leave it out. Edits stay in memifctl until 'commit' (or, for a command line or
a script, its end), which is one transaction: lock the candidate, edit, commit,
unlock; if the agent refuses, the candidate is left as it was found.
Values are shell-quoted words: filename '/tmp/a b.sock', secret "a;b".

Exit codes: 0 success, 1 the agent refused a command (rpc-error), 2 usage error,
3 connection or authentication failure, 141 standard output was closed early.
"""

from __future__ import annotations

import argparse
import os
import sys

from memifctl import errors
from memifctl.errors import UsageError


def _connect(args: argparse.Namespace):
    import ncclient.transport.session
    from ncclient import manager

    # ncclient waits up to TICK seconds (0.1 by default) before sending each
    # request; a CLI should answer at once.
    ncclient.transport.session.TICK = 0.001
    kw = dict(
        host=args.host,
        port=args.port,
        username=args.user,
        hostkey_verify=False,
        allow_agent=False,
        look_for_keys=False,
        timeout=args.timeout,
    )
    if args.key:
        kw["key_filename"] = args.key
    else:
        kw["password"] = args.password
    return manager.connect(**kw)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="memifctl",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    ap.add_argument("--host", default=os.environ.get("MEMIFCTL_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("MEMIFCTL_PORT", "8830")))
    ap.add_argument("--user", default=os.environ.get("MEMIFCTL_USER", "admin"))
    ap.add_argument("--password", default=os.environ.get("MEMIFCTL_PASSWORD", "admin"))
    ap.add_argument("--key", help="SSH private key file instead of a password")
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument(
        "--json",
        action="store_true",
        help="RFC 7951 JSON (via the YANG model) for show and monitor",
    )
    ap.add_argument("--count", type=int, help="monitor: stop after this many events")
    ap.add_argument("command", nargs="*", help="command words; ';' separates commands")
    args = ap.parse_args(argv)

    from ncclient import NCClientError
    from ncclient.operations.rpc import RPCError

    try:
        m = _connect(args)
    except Exception as e:  # ncclient raises several unrelated types here
        print(f"error: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
        return errors.CONNECTION

    from memifctl import grammar
    from memifctl.commands import LockHeld, Session

    sess = Session(m, as_json=args.json)
    status = errors.OK
    interactive = not args.command and sys.stdin.isatty()

    def refused(e: Exception) -> None:
        print(str(e) if isinstance(e, LockHeld) else errors.rpc_error_line(e), file=sys.stderr)

    def run_line(line: str) -> bool:
        """Run one line's commands; False: stop reading lines."""
        nonlocal status
        if interactive:
            status = errors.OK  # the shell's exit status is that of its last line
        try:
            parts = grammar.split_commands(line)
        except UsageError as e:
            print(f"error: {e}", file=sys.stderr)
            status = errors.USAGE
            return interactive
        for words in parts:
            try:
                cmd = grammar.parse(words, sess.mode, implicit_config=not interactive)
                if cmd is None:
                    continue
                if cmd.action == "exit" and sess.mode == grammar.EXEC:
                    return False
                if cmd.action == "monitor":
                    from memifctl import monitor

                    monitor.run(m, args.json, args.count)
                    continue
                out = sess.run(cmd)
                if out:
                    print(out, flush=True)
            except UsageError as e:
                print(f"error: {e}", file=sys.stderr)
                status = errors.USAGE
                return interactive
            except (RPCError, LockHeld) as e:
                refused(e)
                if interactive and sess.pending:
                    print(
                        "(the candidate is unchanged; this session's changes are kept:"
                        " fix them, or 'discard')",
                        file=sys.stderr,
                    )
                status = errors.REFUSED
                return interactive
        return True

    try:
        if args.command:
            run_line(" ".join(args.command))
        elif interactive:
            from memifctl import shell

            shell.loop(run_line, lambda: sess.prompt, lambda: sess.mode)
        else:
            for line in sys.stdin:
                if not run_line(line) or status != errors.OK:
                    break
        if interactive and sess.pending:
            print(f"{len(sess.pending)} uncommitted change(s) dropped", file=sys.stderr)
        elif status == errors.OK and sess.pending:
            # A command line or a script is one transaction, `commit` implied.
            try:
                sess.commit()
            except (RPCError, LockHeld) as e:
                refused(e)
                status = errors.REFUSED
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # The reader went away (`memifctl ... | head -1`): end quietly with the
        # status a shell reports for a tool killed by SIGPIPE.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so the interpreter's final flush is silent
        status = errors.BROKEN_PIPE
    except NCClientError as e:
        # Not an answer but a lost session or a timeout: the agent frees the lock of a
        # session that ends (and discards its candidate changes).
        print(f"error: lost the NETCONF session with the agent: {e}", file=sys.stderr)
        status = errors.CONNECTION
    finally:
        try:
            m.close_session()
        except Exception:
            pass
    return status


if __name__ == "__main__":
    sys.exit(main())
