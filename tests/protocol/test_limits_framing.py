"""Big messages leave the framer as the pieces they arrived in (agent.netconf.framing.Pieces),
in both framings, byte-identical to what was sent whatever the read sizes."""

from __future__ import annotations

import random

import pytest

from agent.netconf.framing import Framer, Pieces


def _drain(f: Framer, data: bytes, rng: random.Random) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rng.choice([1, 5, 7, 1000, 4095, 65536, 300000])
        f.feed(data[i : i + n])
        i += n
        while (m := f.next_message()) is not None:
            out.append(m.join() if isinstance(m, Pieces) else m)
    return out


@pytest.mark.parametrize("chunked", [False, True], ids=["base1.0", "base1.1"])
def test_pieces_reassemble_exactly(chunked):
    rng = random.Random(7)
    for trial in range(60):
        f = Framer(10 << 20)
        f.pieces_from = rng.choice([0, 1000, 100000])
        if chunked:
            f.set_chunked()
        sizes = [rng.choice([1, 10, 70000, 200000, 300000]) for _ in range(4)]
        msgs = [bytes([65 + i]) * n + b"]]<" for i, n in enumerate(sizes)]
        if chunked:
            data = b"".join(
                b"".join(
                    b"\n#%d\n%s" % (len(m[j : j + 999]), m[j : j + 999])
                    for j in range(0, len(m), 999)
                )
                + b"\n##\n"
                for m in msgs
            )
        else:
            data = b"".join(m + b"]]>]]>" for m in msgs)
        assert _drain(f, data, rng) == msgs, trial
        assert f.buffered() == 0


def test_big_message_is_pieces_small_is_bytes():
    f = Framer()
    f.pieces_from = 1000
    f.feed(b"x" * 200000)  # no end yet: moved out of the buffer as a piece
    assert f.next_message() is None and f.buffered() == 200000
    f.feed(b"]]>]]>" + b"y" * 10 + b"]]>]]>")
    big, small = f.next_message(), f.next_message()
    assert isinstance(big, Pieces) and big.size == 200000 and big.join() == b"x" * 200000
    assert small == b"y" * 10
