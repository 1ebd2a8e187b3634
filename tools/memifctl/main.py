"""memifctl: TNSR-style memif commands against a memif-agent over NETCONF.

  memifctl                          interactive shell (tab completion, '?' help)
  memifctl show interface memif     one command
  memifctl 'interface memif socket 23 interface 100; role server; enable; exit; commit'
  echo 'show interface memif' | memifctl   commands from standard input

Exit codes: 0 success, 1 the agent refused a command (rpc-error), 2 usage error,
3 connection or authentication failure.
"""

from __future__ import annotations

import argparse
import os
import sys

from tools.memifctl import errors
from tools.memifctl.errors import UsageError


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
    ap.add_argument("--json", action="store_true", help="JSON output for show and monitor")
    ap.add_argument("--count", type=int, help="monitor: stop after this many events")
    ap.add_argument("command", nargs="*", help="command words; ';' separates commands")
    args = ap.parse_args(argv)

    from ncclient.operations.rpc import RPCError

    try:
        m = _connect(args)
    except Exception as e:  # ncclient raises several unrelated types here
        print(f"error: cannot connect to {args.host}:{args.port}: {e}", file=sys.stderr)
        return errors.CONNECTION

    from tools.memifctl import grammar
    from tools.memifctl.commands import Session

    sess = Session(m, as_json=args.json)
    status = errors.OK

    def run_line(line: str) -> bool:
        nonlocal status
        for part in line.split(";"):
            try:
                cmd = grammar.parse(part, in_memif=sess.memif is not None)
                if cmd is None:
                    continue
                if cmd.action == "exit":
                    return False
                if cmd.action == "monitor":
                    from tools.memifctl import monitor

                    monitor.run(m, args.json, args.count)
                    continue
                out = sess.run(cmd)
                if out:
                    print(out)
            except UsageError as e:
                print(f"error: {e}", file=sys.stderr)
                status = errors.USAGE
                return interactive
            except RPCError as e:
                print(errors.rpc_error_line(e), file=sys.stderr)
                status = errors.REFUSED
                return interactive
        return True

    interactive = not args.command and sys.stdin.isatty()
    try:
        if args.command:
            run_line(" ".join(args.command))
        elif interactive:
            from tools.memifctl import shell

            shell.loop(run_line, lambda: sess.prompt, lambda: sess.memif is not None)
        else:
            for line in sys.stdin:
                if not run_line(line) or status != errors.OK:
                    break
    except KeyboardInterrupt:
        pass
    finally:
        try:
            m.close_session()
        except Exception:
            pass
    return status


if __name__ == "__main__":
    sys.exit(main())
