"""dpdk-testpmd as a memif peer (net_memif), driven through its interactive stdin.

No hugepages: --no-huge -m 512 --no-pci. Each instance gets its own
--file-prefix. DPDK 22.11 sometimes segfaults when its peer disconnects while
it forwards: stop() first, and treat exit 139 at teardown as that known bug.
"""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import threading
import time

_ids = itertools.count()


class TestPmd:
    __test__ = False  # a peer, not a test class (its name starts with Test)

    def __init__(
        self,
        socket: str,
        role: str,
        if_id: int = 0,
        forward: str = "rxonly",
        txpkts: int = 64,
        extra_vdev: str = "",
        cores: str = "0@0,1@1",
    ) -> None:
        self.prefix = f"memif-agent-test-{os.getpid()}-{next(_ids)}"
        vdev = f"net_memif0,role={role},socket={socket},socket-abstract=no,id={if_id}{extra_vdev}"
        self.cmd = [
            "stdbuf",  # testpmd block-buffers stdout into a pipe; we parse it live
            "-oL",
            "dpdk-testpmd",
            f"--lcores={cores}",
            "--no-huge",
            "-m",
            "512",
            "--no-pci",
            f"--file-prefix={self.prefix}",
            "--log-level=lib.eal:error",
            f"--vdev={vdev}",
            "--",
            "-i",
            "--total-num-mbufs=32768",
            f"--forward-mode={forward}",
            f"--txpkts={txpkts}",
            # net_memif caps the port's max frame at 1518 but receives longer
            # frames as mbuf chains, so 9000 B frames need no --max-pkt-len.
        ]
        self.proc = subprocess.Popen(
            self.cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        self.out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.out.append(line)

    def text(self) -> str:
        return "".join(self.out)

    def send(self, *commands: str) -> None:
        assert self.proc.stdin is not None
        for c in commands:
            self.proc.stdin.write(c + "\n")
        self.proc.stdin.flush()

    def wait_for(self, pattern: str, timeout: float = 20.0, start: int = 0) -> re.Match:
        end = time.time() + timeout
        while time.time() < end:
            m = re.search(pattern, "".join(self.out[start:]))
            if m:
                return m
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"testpmd: no {pattern!r} in:\n{self.text()[-3000:]}")

    def start(self) -> None:
        """Start forwarding. testpmd flushes its RX queues when it starts, so
        frames sent before this returns would be lost: wait until it runs."""
        mark = len(self.out)
        self.send("start")
        # "Start automatic packet forwarding", or, when it runs already (a caller
        # retrying under load), "Packet forwarding already started".
        self.wait_for(r"(?i)packet forwarding", start=mark)
        time.sleep(0.2)

    def stats(self) -> dict[str, int]:
        """RX/TX packet counters of port 0 (show port stats all)."""
        mark = len(self.out)
        self.send("show port stats all")
        self.wait_for(r"TX-packets:\s*\d+", start=mark)
        time.sleep(0.05)
        text = "".join(self.out[mark:])
        return {
            "rx": int(re.search(r"RX-packets:\s*(\d+)", text).group(1)),
            "tx": int(re.search(r"TX-packets:\s*(\d+)", text).group(1)),
        }

    def quit(self) -> int:
        if self.proc.poll() is None:
            try:
                self.send("stop", "quit")
                self.proc.wait(15)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        assert rc in (0, 139, -11), f"testpmd exited {rc}:\n{self.text()[-2000:]}"
        return rc
