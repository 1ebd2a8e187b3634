"""One memif endpoint as a load generator or sink, in its own process, for
benchmarks: the dataplane's C loop sends or counts frames at full speed.

    python -m dataplane.perf --role client --socket /tmp/m.sock --id 0 \
        --kind tx --size 64 --seconds 3 --cpu 1

Prints one JSON line: {"pps": ..., "bps": ..., "packets": ..., "seconds": ...}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from dataplane import Dataplane


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=("server", "client"), required=True)
    ap.add_argument("--socket", required=True)
    ap.add_argument("--id", type=int, default=0)
    ap.add_argument(
        "--kind",
        choices=("tx", "rx", "rx-copy", "both", "python-rx", "python-tx"),
        required=True,
        help="both: send at full speed and count what arrives; rx-copy: copy every frame out",
    )
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--warmup", type=float, default=0.5)
    ap.add_argument("--cpu", type=int, help="pin this process (and its dataplane thread)")
    ap.add_argument("--connect-timeout", type=float, default=30.0)
    args = ap.parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})  # before the C thread starts: it inherits it
    dp = Dataplane(app_name="memif-agent-perf")
    dp.add_socket(1, args.socket)
    python = args.kind.startswith("python")
    dp.add_interface(
        1, args.id, role=args.role, enabled=True, rx_mode="python" if python else "drop"
    )
    end = time.time() + args.connect_timeout
    while dp.interface_state(1, args.id)["link-status"] != "up":
        if time.time() > end:
            print(json.dumps({"error": "no link"}))
            return 1
        time.sleep(0.01)
    print("link up", file=sys.stderr, flush=True)
    # "both" reports what it received: the benchmark adds the two sides' figures.
    counter = "tx-packets" if args.kind.endswith("tx") else "rx-packets"
    bytes_counter = counter.replace("packets", "bytes")
    if not python:
        dp.start_traffic(
            1, args.id, kind="tx" if args.kind == "both" else args.kind, size=args.size
        )
        time.sleep(args.warmup)
        c0 = dp.interface_state(1, args.id)["counters"]
        t0 = time.perf_counter()
        time.sleep(args.seconds)
        c1 = dp.interface_state(1, args.id)["counters"]
        dt = time.perf_counter() - t0
        dp.stop_traffic(1, args.id)
    else:
        frame = b"\xff" * 6 + b"\x02\xfe" + b"\0" * (args.size - 8)
        data, lens = frame * 256, [args.size] * 256
        c0 = dp.interface_state(1, args.id)["counters"]
        t0 = time.perf_counter()
        stop = t0 + args.seconds
        if args.kind == "python-rx":
            while time.perf_counter() < stop:
                dp.rx_burst(1, args.id, 0, 256)
        else:
            while time.perf_counter() < stop:
                dp.tx_burst(1, args.id, 0, data, lens)
        dt = time.perf_counter() - t0
        c1 = dp.interface_state(1, args.id)["counters"]
    pkts = c1[counter] - c0[counter]
    byts = c1[bytes_counter] - c0[bytes_counter]
    print(json.dumps({"pps": pkts / dt, "bps": byts * 8 / dt, "packets": pkts, "seconds": dt}))
    dp.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
