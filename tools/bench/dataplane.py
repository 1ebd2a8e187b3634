"""memif throughput: DPDK<->DPDK (the anchor), ours<->DPDK and ours<->ours in
the same run, one direction and both (sum of the two receivers; DPDK in
flowgen mode sends and receives), 64 B and 1500 B, each side's forwarding thread
pinned to its own core; plus the Python burst API against DPDK.

    .venv/bin/python tools/bench/dataplane.py [--seconds 3] [--markdown]

Rates are measured at the receiver over a window after warm-up.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "support"))
sys.path.insert(0, str(ROOT))
from testpmd import TestPmd  # noqa: E402

from tools.bench.report import print_table  # noqa: E402

TX_CORE, RX_CORE = 0, 1
PY = sys.executable


def pmd(sock: str, role: str, forward: str, size: int, fwd_core: int) -> TestPmd:
    main_core = RX_CORE if fwd_core == TX_CORE else TX_CORE
    return TestPmd(sock, role, forward=forward, txpkts=size, cores=f"0@{main_core},1@{fwd_core}")


def pmd_rate(p: TestPmd, key: str, seconds: float) -> float:
    a = p.stats()[key]
    t = time.perf_counter()
    time.sleep(seconds)
    b = p.stats()[key]
    return (b - a) / (time.perf_counter() - t)


def pmd_rates_both(a: TestPmd, b: TestPmd, seconds: float) -> tuple[float, float]:
    a0, b0 = a.stats()["rx"], b.stats()["rx"]
    t = time.perf_counter()
    time.sleep(seconds)
    a1, b1 = a.stats()["rx"], b.stats()["rx"]
    dt = time.perf_counter() - t
    return (a1 - a0) / dt, (b1 - b0) / dt


def wait_link(p: TestPmd, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        mark = len(p.out)
        p.send("show port info 0")
        try:
            if p.wait_for(r"Link status:\s*(\w+)", start=mark, timeout=5).group(1) == "up":
                return
        except AssertionError:
            pass
        time.sleep(0.2)
    raise RuntimeError("testpmd link did not come up")


def ours(role: str, sock: str, kind: str, size: int, cpu: int, seconds: float):
    return subprocess.Popen(
        [
            PY,
            "-m",
            "dataplane.perf",
            "--role",
            role,
            "--socket",
            sock,
            "--kind",
            kind,
            "--size",
            str(size),
            "--seconds",
            str(seconds),
            "--cpu",
            str(cpu),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def result(p: subprocess.Popen) -> float:
    out, _ = p.communicate(timeout=120)
    data = json.loads(out.strip().splitlines()[-1])
    if "error" in data:
        raise RuntimeError(data["error"])
    return data["pps"]


def run_once(kind: str, size: int, seconds: float, work: Path) -> float:
    """kind: 'dpdk-dpdk', 'ours-dpdk' (ours sends), 'dpdk-ours', 'ours-ours' (our
    sink counts frames), 'dpdk-ours-copy', 'ours-ours-copy' (our sink copies
    every frame out of the ring, as DPDK's receive copies into its mbufs),
    'pyrx' (DPDK sends, Python rx_burst), 'pytx' (Python tx_burst, DPDK receives)."""
    sock = str(work / f"{kind}-{size}.sock")
    if kind == "dpdk-dpdk":
        rx = pmd(sock, "server", "rxonly", size, RX_CORE)
        time.sleep(1.0)
        tx = pmd(sock, "client", "txonly", size, TX_CORE)
        try:
            wait_link(rx)
            rx.start()
            tx.start()
            time.sleep(0.5)
            return pmd_rate(rx, "rx", seconds)
        finally:
            tx.quit()
            rx.quit()
    if kind in ("ours-dpdk", "pytx"):
        rx = pmd(sock, "server", "rxonly", size, RX_CORE)
        time.sleep(1.0)
        rx.start()
        p = ours(
            "client",
            sock,
            "tx" if kind == "ours-dpdk" else "python-tx",
            size,
            TX_CORE,
            seconds + 1.5,
        )
        try:
            wait_link(rx)
            time.sleep(0.7)
            return pmd_rate(rx, "rx", seconds)
        finally:
            result(p)
            rx.quit()
    if kind in ("dpdk-ours", "dpdk-ours-copy", "pyrx"):
        sink = {"dpdk-ours": "rx", "dpdk-ours-copy": "rx-copy", "pyrx": "python-rx"}[kind]
        p = ours("server", sock, sink, size, RX_CORE, seconds)
        time.sleep(0.5)
        tx = pmd(sock, "client", "txonly", size, TX_CORE)
        try:
            wait_link(tx)
            tx.start()
            return result(p)
        finally:
            tx.quit()
    if kind == "dpdk-dpdk-both":
        a = pmd(sock, "server", "flowgen", size, RX_CORE)
        time.sleep(1.0)
        b = pmd(sock, "client", "flowgen", size, TX_CORE)
        try:
            wait_link(a)
            a.start()
            b.start()
            time.sleep(0.5)
            ra, rb = pmd_rates_both(a, b, seconds)
            return ra + rb
        finally:
            b.quit()
            a.quit()
    if kind == "ours-dpdk-both":
        a = pmd(sock, "server", "flowgen", size, RX_CORE)
        time.sleep(1.0)
        a.start()
        p = ours("client", sock, "both", size, TX_CORE, seconds + 1.5)
        try:
            wait_link(a)
            time.sleep(0.7)
            dpdk_rx = pmd_rate(a, "rx", seconds)
        finally:
            ours_rx = result(p)
            a.quit()
        return dpdk_rx + ours_rx
    if kind == "ours-ours-both":
        a = ours("server", sock, "both", size, RX_CORE, seconds)
        time.sleep(0.3)
        b = ours("client", sock, "both", size, TX_CORE, seconds)
        return result(a) + result(b)
    if kind in ("ours-ours", "ours-ours-copy"):
        sink = "rx" if kind == "ours-ours" else "rx-copy"
        rx = ours("server", sock, sink, size, RX_CORE, seconds)
        time.sleep(0.3)
        tx = ours("client", sock, "tx", size, TX_CORE, seconds + 1.5)
        try:
            return result(rx)
        finally:
            result(tx)
    raise ValueError(kind)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--trials", type=int, default=3, help="runs of every row (min, median)")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    if os.cpu_count() is None or os.cpu_count() < 2:
        sys.exit("needs two cores")
    work = Path(tempfile.mkdtemp(prefix="bench-dp-"))
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = []

    # (kind, label, anchor kind); anchors are their own rows.
    spec: dict[int, list[tuple[str, str, str]]] = {}
    for size in (64, 1500):
        one = [
            ("dpdk-dpdk", f"DPDK -> DPDK, {size} B (anchor)", "dpdk-dpdk"),
            ("ours-dpdk", f"ours -> DPDK, {size} B", "dpdk-dpdk"),
            ("dpdk-ours", f"DPDK -> ours (counting sink), {size} B", "dpdk-dpdk"),
            ("dpdk-ours-copy", f"DPDK -> ours (copying sink), {size} B", "dpdk-dpdk"),
            ("ours-ours", f"ours -> ours (counting sink), {size} B", "dpdk-dpdk"),
            ("ours-ours-copy", f"ours -> ours (copying sink), {size} B", "dpdk-dpdk"),
            ("dpdk-dpdk-both", f"DPDK <-> DPDK both ways, {size} B (anchor)", "dpdk-dpdk-both"),
            ("ours-dpdk-both", f"ours <-> DPDK both ways, {size} B", "dpdk-dpdk-both"),
            ("ours-ours-both", f"ours <-> ours both ways, {size} B", "dpdk-dpdk-both"),
        ]
        if size == 64:
            one += [
                ("pyrx", "Python rx_burst <- DPDK, 64 B", "dpdk-dpdk"),
                ("pytx", "Python tx_burst -> DPDK, 64 B", "dpdk-dpdk"),
            ]
        spec[size] = one

    # Two shared cores make single runs noisy (the anchor varied 6-28 Mpps between
    # runs, and is bimodal within one): every row runs N times, and the rows take
    # turns with their anchors, so a turn's ratio compares the same minutes.
    results: dict[tuple[int, str], list[float]] = {}
    for size, kinds in spec.items():
        for t in range(args.trials):
            for kind, _, _ in kinds:
                trial = work / f"{size}-{kind}-t{t}"
                trial.mkdir(exist_ok=True)
                results.setdefault((size, kind), []).append(
                    run_once(kind, size, args.seconds, trial)
                )
    for size, kinds in spec.items():
        for kind, label, anchor in kinds:
            rows.append((label, size, results[(size, kind)], results[(size, anchor)]))

    def cells(label: str, size: int, pps: list[float], anchor: list[float]) -> tuple[str, ...]:
        med, a = statistics.median(pps), statistics.median(anchor)
        turns = sorted(x / y for x, y in zip(pps, anchor, strict=True))
        return (
            label,
            f"{min(pps) / 1e6:.2f} / {med / 1e6:.2f}",
            f"{med * size * 8 / 1e9:.1f}",
            f"{med / a:.2f}x",
            f"{statistics.median(turns):.2f}x ({turns[0]:.2f}-{turns[-1]:.2f})",
        )

    print(
        f"run of {started}, {args.trials} turns of {args.seconds} s per row, rows and their "
        "anchors taking turns"
    )
    print_table(
        (
            "path",
            "Mpps (min / median)",
            "Gb/s (median)",
            "ratio of medians to DPDK<->DPDK (same size, same run)",
            "median of per-turn ratios (range)",
        ),
        [cells(*row) for row in rows],
        args.markdown,
    )


if __name__ == "__main__":
    main()
