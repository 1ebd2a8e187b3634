"""The memif handshake state machines (dataplane/src/handshake.c) driven with byte
vectors, no sockets: messages are packed here from the wire layout in
shared/memif-protocol.md §2.1, not with our encoder, and fed through
tests/protocol/hs_driver.c, which prints every decision."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ACK, HELLO, INIT, ADD_REGION, ADD_RING, CONNECT, CONNECTED, DISCONNECT = range(1, 9)
V2 = 0x0200


def msg(mtype: int, fmt: str = "", *fields) -> bytes:
    body = struct.pack("<H" + fmt, mtype, *fields)
    return body.ljust(128, b"\0")


def hello(name=b"vpp", vmin=V2, vmax=V2, max_region=255, max_m2s=255, max_s2m=255, log2=14):
    return msg(HELLO, "32sHHHHHB", name, vmin, vmax, max_region, max_m2s, max_s2m, log2)


def init(iid=2, mode=0, secret=b"", name=b"peer", version=V2):
    return msg(INIT, "HIB24s32s", version, iid, mode, secret, name)


def add_region(index=0, size=1 << 20):
    return msg(ADD_REGION, "HQ", index, size)


def add_ring(s2m=True, index=0, region=0, offset=0, log2=10, priv=0):
    return msg(ADD_RING, "HHHIBH", 1 if s2m else 0, index, region, offset, log2, priv)


def connect(name=b"memif1/2"):
    return msg(CONNECT, "32s", name)


@pytest.fixture(scope="module")
def driver(tmp_path_factory) -> Path:
    cc = shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.fail("a C compiler is needed (Makefile installs clang)")
    exe = tmp_path_factory.mktemp("hs") / "hs_driver"
    src = ROOT / "dataplane" / "src"
    subprocess.run(
        [
            cc,
            "-std=gnu11",
            "-Wall",
            "-Werror",
            "-fsanitize=address,undefined",
            "-g",
            f"-I{src}",
            str(ROOT / "tests" / "protocol" / "hs_driver.c"),
            str(src / "ctrl.c"),
            str(src / "handshake.c"),
            "-o",
            str(exe),
        ],
        check=True,
    )
    return exe


def run(driver: Path, args: list[str], msgs: list[tuple[bytes, int]]) -> list[str]:
    stdin = "".join(f"{m.hex()} {fd}\n" for m, fd in msgs)
    r = subprocess.run(
        [str(driver), *args], input=stdin, capture_output=True, text=True, timeout=30
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


SERVER = [
    "server",
    "-",
    "0",
    "1",
    "1",
    "1",
    "0",
]  # no secret, ethernet, found, server, enabled, free


def test_server_hello_bytes(driver) -> None:
    line = run(driver, SERVER, [])[0]
    b = bytes.fromhex(line.split()[1])
    assert struct.unpack_from("<H", b) == (HELLO,)
    assert b[2:8] == b"driver"
    # versions 2.0..2.0, highest region index 15, highest ring index 254, log2 14
    assert struct.unpack_from("<HHHHHB", b, 34) == (V2, V2, 15, 254, 254, 14)


def test_server_accepts_a_full_exchange(driver) -> None:
    rb = 128 + 16 * 1024  # ring header + 1024 descriptors
    out = run(
        driver,
        SERVER,
        [
            (init(), 0),
            (add_region(0, 4 * rb), 1),
            (add_ring(True, 0, 0, 0), 1),
            (add_ring(True, 1, 0, rb), 1),
            (add_ring(False, 0, 0, 2 * rb), 1),
            (connect(), 0),
        ],
    )
    assert out[1:] == [
        "ACK",
        f"MAP_REGION 0 {4 * rb}",
        "ADD_RING s2m 0 region 0 offset 0 log2 10",
        f"ADD_RING s2m 1 region 0 offset {rb} log2 10",
        f"ADD_RING m2s 0 region 0 offset {2 * rb} log2 10",
        "CONNECT 2 s2m 1 m2s log2 10",
    ]


@pytest.mark.parametrize(
    "view, first, reason",
    [
        (SERVER, init(version=0x0100), "incompatible version"),
        (SERVER, add_region(), "expected INIT"),
        (["server", "-", "0", "0", "1", "1", "0"], init(), "unmatched interface id"),
        (["server", "-", "0", "1", "0", "1", "0"], init(), "unmatched interface id"),  # a client id
        (["server", "-", "0", "1", "1", "0", "0"], init(), "interface admin down"),
        (["server", "-", "0", "1", "1", "1", "1"], init(), "already connected"),
        (["server", "s3cret", "0", "1", "1", "1", "0"], init(), "secret required"),
        (["server", "s3cret", "0", "1", "1", "1", "0"], init(secret=b"guess"), "incorrect secret"),
        (SERVER, init(mode=1), "mode mismatch"),
        (SERVER, init(mode=2), "unsupported interface mode"),
    ],
)
def test_server_refuses_init(driver, view, first, reason) -> None:
    assert run(driver, view, [(first, 0)])[1:] == [f"FAIL {reason}"]


def test_server_accepts_the_right_secret(driver) -> None:
    view = ["server", "s3cret", "0", "1", "1", "1", "0"]
    assert run(driver, view, [(init(secret=b"s3cret"), 0)])[1:] == ["ACK"]


@pytest.mark.parametrize(
    "steps, reason",
    [
        ([(add_region(), 0)], "missing region fd"),
        ([(add_region(1), 1)], "unexpected region index"),
        ([(add_region(0, 0), 1)], "empty region"),
        ([(add_region(), 1), (add_ring(), 0)], "missing interrupt fd"),
        ([(add_region(), 1), (add_ring(index=1), 1)], "unexpected ring index"),
        ([(add_region(), 1), (add_ring(region=1), 1)], "ring in unknown region"),
        ([(add_region(), 1), (add_ring(priv=8), 1)], "private header not supported"),
        ([(add_region(), 1), (add_ring(log2=15), 1)], "invalid ring size"),
        ([(add_region(), 1), (add_ring(log2=0), 1)], "invalid ring size"),
        (
            [(add_region(), 1), (add_ring(log2=10), 1), (add_ring(False, log2=11), 1)],
            "ring sizes differ",
        ),
        ([(add_region(0, 4096), 1), (add_ring(log2=10), 1)], "ring outside its region"),
        ([(add_region(), 1), (add_ring(offset=(1 << 20) - 64), 1)], "ring outside its region"),
        ([(add_region(), 1), (add_ring(), 1), (connect(), 0)], "no rings"),  # no M2S ring
        ([(connect(), 0)], "no rings"),
        ([(add_region(), 1), (msg(ACK), 0)], "unexpected message"),
        ([(init(), 0)], "unexpected message"),  # a second INIT
    ],
)
def test_server_refuses_out_of_order_or_out_of_bounds(driver, steps, reason) -> None:
    out = run(driver, SERVER, [(init(), 0), *steps])
    assert out[-1] == f"FAIL {reason}"


def test_server_refuses_a_17th_region(driver) -> None:
    steps = [(add_region(k), 1) for k in range(17)]
    out = run(driver, SERVER, [(init(), 0), *steps])
    assert out[-2] == "MAP_REGION 15 1048576" and out[-1] == "FAIL unexpected region index"


def test_server_drops_garbage(driver) -> None:
    assert run(driver, SERVER, [(b"\xff" * 128, 0)])[1:] == ["FAIL malformed message"]


CLIENT = [
    "client",
    "2",
    "0",
    "10",
    "1",
    "2",
    "2048",
    "s3cret",
]  # id, eth, log2, rxq 1, txq 2, bsize


def test_client_plans_and_sends_in_lock_step(driver) -> None:
    out = run(driver, CLIENT, [(hello(), 0)] + [(msg(ACK), 0)] * 5 + [(msg(CONNECTED), 0)])
    rb = 128 + 16 * 1024
    region = 3 * rb + 3 * 1024 * 2048
    assert out[0] == f"PLAN log2 10 s2m 2 m2s 1 region {region}"
    sends = [line.split() for line in out[1:-1]]
    assert [(s[1], s[3]) for s in sends] == [
        ("0", "-1"),
        ("1", "-2"),
        ("2", "0"),
        ("3", "1"),
        ("4", "2"),
        ("5", "-1"),
    ]
    b = [bytes.fromhex(s[4]) for s in sends]
    assert b[0] == init(2, 0, b"s3cret", b"driver")
    assert b[1] == add_region(0, region)
    assert b[2] == add_ring(True, 0, 0, 0, 10)
    assert b[3] == add_ring(True, 1, 0, rb, 10)
    assert b[4] == add_ring(False, 0, 0, 2 * rb, 10)
    assert b[5] == connect(b"memif1/2")
    assert out[-1] == "UP"


def test_client_takes_the_servers_limits(driver) -> None:
    # The server allows ring indices 0 only and log2 8: one ring each way of 256.
    out = run(
        driver,
        ["client", "1", "0", "12", "4", "4", "2048", "-"],
        [(hello(max_m2s=0, max_s2m=0, log2=8), 0)],
    )
    assert out[0].startswith("PLAN log2 8 s2m 1 m2s 1 ")
    first = bytes.fromhex(out[1].split()[4])
    assert first[9:33] == b"\0" * 24  # no secret: all zero


@pytest.mark.parametrize(
    "steps, reason",
    [
        ([(hello(vmin=0x0300, vmax=0x0300), 0)], "incompatible version"),
        ([(hello(vmin=0x0100, vmax=0x0100), 0)], "incompatible version"),
        ([(hello(log2=0), 0)], "peer offers no rings"),
        ([(msg(ACK), 0)], "unexpected message"),  # ACK before HELLO
        ([(msg(CONNECTED), 0)], "unexpected message"),
        ([(hello(), 0), (msg(CONNECTED), 0)], "unexpected message"),  # too early
        ([(hello(), 0), (hello(), 0)], "unexpected message"),  # a second HELLO
        ([(hello(), 0)] + [(msg(ACK), 0)] * 6, "unexpected message"),  # an ACK too many
        ([(hello(), 0), (init(), 0)], "unexpected message"),
    ],
)
def test_client_refuses(driver, steps, reason) -> None:
    assert run(driver, CLIENT, steps)[-1] == f"FAIL {reason}"


def test_client_refuses_a_region_over_4_gib(driver) -> None:
    out = run(driver, ["client", "1", "0", "14", "255", "255", "65535", "-"], [(hello(), 0)])
    assert out == ["FAIL region too large"]
