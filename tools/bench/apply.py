"""Commit -> dataplane figures (issue 5), against an agent with its dataplane:

- commit-to-link-up: the agent commits a client interface while a memif server
  (our dataplane, in this process) waits; time from sending <commit> to the
  link-state-change notification, and to the peer seeing the link up;
- commit time for 1,000 server interfaces on 100 sockets (listening sockets
  created), and for deleting them again.
Anchors (same run): the round trip of a <commit> that changes nothing, and one
crash-safe write (fsync, rename, fsync of the directory) of a file of running.xml's
size in the agent's state directory: what the disk adds to a commit that changes
something.

    .venv/bin/python tools/bench/apply.py [--markdown]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


from dataplane import Dataplane  # noqa: E402
from tools.bench.processes import connect, start_agent  # noqa: E402
from tools.bench.report import print_table  # noqa: E402

NS = "urn:memif-agent:yang:memif-agent"
NC = "urn:ietf:params:xml:ns:netconf:base:1.0"


def cfg(body: str, op: str = "") -> str:
    attr = f' xmlns:nc="{NC}" nc:operation="{op}"' if op else ""
    return f'<config><memif xmlns="{NS}"{attr}>{body}</memif></config>'


def link_latency(m, work: Path, rounds: int) -> tuple[list[float], list[float]]:
    peer = Dataplane("bench-peer")
    sock = str(work / "lat.sock")
    peer.add_socket(1, sock)
    peer.add_interface(1, 1, role="server", enabled=True)
    m.edit_config(
        target="running", config=cfg(f"<socket><id>1</id><filename>{sock}</filename></socket>")
    )
    notif, peer_up = [], []
    for _ in range(rounds):
        m.edit_config(
            target="candidate",
            config=cfg(
                "<interface><socket-id>1</socket-id><id>1</id><role>client</role>"
                "<enabled>true</enabled></interface>"
            ),
        )
        peer.events()
        seen: list[float] = []

        def watch_peer(seen=seen) -> None:
            # A sleeping poller: a busy loop would hold the GIL that ncclient's
            # reader thread needs, and delay the notification being measured.
            end = time.perf_counter() + 5
            while time.perf_counter() < end:
                if any(e["up"] for e in peer.events()):
                    seen.append(time.perf_counter())
                    return
                time.sleep(0.0002)

        watcher = threading.Thread(target=watch_peer)
        watcher.start()
        t0 = time.perf_counter()
        m.commit()
        while True:
            n = m.take_notification(block=True, timeout=5)
            if n is None:
                raise RuntimeError("no link-up notification")
            if "<link-status>up</link-status>" in n.notification_xml:
                notif.append(time.perf_counter() - t0)
                break
        watcher.join()
        peer_up.append(seen[0] - t0)
        m.edit_config(
            target="running",
            config=cfg(
                f'<interface xmlns:nc="{NC}" nc:operation="delete"><socket-id>1</socket-id>'
                "<id>1</id></interface>"
            ),
        )
        while (n := m.take_notification(block=True, timeout=2)) is not None:
            if "<link-status>down</link-status>" in n.notification_xml:
                break
    peer.close()
    return notif, peer_up


def bulk(m, work: Path, reps: int = 5) -> tuple[float, float, list[float], list[float]]:
    body = "".join(
        f"<socket><id>{s}</id><filename>{work}/bulk/{s}.sock</filename></socket>"
        for s in range(100, 200)
    )
    body += "".join(
        f"<interface><socket-id>{100 + i % 100}</socket-id><id>{i}</id>"
        "<enabled>true</enabled></interface>"
        for i in range(1000)
    )
    m.edit_config(target="candidate", config=cfg(body))
    t = time.perf_counter()
    m.commit()
    create = time.perf_counter() - t
    # What `memifctl show interface memif` asks for: configuration and live state.
    subtree = ("subtree", f'<memif xmlns="{NS}"/>')
    show, show_config = [], []
    for _ in range(reps):  # in turns: load from other processes hits both alike
        t = time.perf_counter()
        m.get(filter=subtree)
        show.append(time.perf_counter() - t)
        t = time.perf_counter()
        m.get_config("running", filter=subtree)
        show_config.append(time.perf_counter() - t)
    m.edit_config(target="candidate", default_operation="replace", config=cfg(""))
    t = time.perf_counter()
    m.commit()
    return create, time.perf_counter() - t, show, show_config


def med(values: list[float]) -> float:
    return statistics.median(values)


def disk_write(state: Path, rounds: int) -> list[float]:
    from agent.datastore import persist

    data = (state / "running.xml").read_bytes()
    out = []
    for k in range(rounds):
        t = time.perf_counter()
        # Different bytes each time: an identical write is skipped.
        persist.atomic_write(state / ".bench-write.xml", data + str(k).encode())
        out.append(time.perf_counter() - t)
    persist.atomic_remove(state / ".bench-write.xml")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-apply-"))
    t_start = time.time()
    agent, port = start_agent(work)
    try:
        m = connect(port)
        empty = []
        for _ in range(args.rounds):
            t = time.perf_counter()
            m.commit()
            empty.append(time.perf_counter() - t)
        # Link events only: the rows time those, not RFC 6470 config-change.
        m.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
        notif, peer_up = link_latency(m, work, args.rounds)
        create, delete, show, show_config = bulk(m, work)
        disk = disk_write(work / "state", args.rounds)
        m.close_session()
    finally:
        agent.terminate()
        agent.wait()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(t_start))
    anchor = statistics.median(empty)
    rows = [
        ("empty commit round trip (anchor)", anchor, "—"),
        ("crash-safe write of running.xml's size in the state dir (median)", med(disk), "—"),
        ("commit -> peer sees link up (median)", statistics.median(peer_up), "≤ 20 ms"),
        ("commit -> link-up notification (median)", statistics.median(notif), "≤ 20 ms"),
        ("commit -> link-up notification (max)", max(notif), "—"),
        ("commit 1,000 server interfaces on 100 sockets", create, "—"),
        ("delete them all + commit", delete, "—"),
        ("get-config <memif/> of those 1,000 interfaces (median of 5)", med(show_config), "—"),
        ("get <memif/> with their live state (median of 5)", med(show), "≤ 3x get-config"),
    ]
    print(f"run of {started}, {args.rounds} rounds")
    print_table(
        ("measure", "time", "ratio to empty commit", "target"),
        [(label, f"{s * 1000:.1f} ms", f"{s / anchor:.1f}x", t) for label, s, t in rows],
        args.markdown,
    )
    print(
        f"get with state / get-config: {med(show) / med(show_config):.1f}x "
        f"(min {min(show) * 1000:.1f} / {min(show_config) * 1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
