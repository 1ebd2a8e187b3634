"""Control-message codec (dataplane/src/ctrl.c) against byte vectors built from
the offsets of shared/memif-protocol.md §2.1."""

import struct

import pytest

from dataplane import MemifError, codec_decode


def msg(type_: int, fmt: str = "", *fields) -> bytes:
    body = struct.pack("<H" + fmt, type_, *fields)
    return body + b"\xaa" * (128 - len(body))  # libmemif leaves garbage padding


def test_hello() -> None:
    m = codec_decode(msg(2, "32sHHHHHB", b"VPP 24.02\0junk", 0x200, 0x200, 255, 255, 255, 14))
    assert m == {
        "type": "HELLO",
        "name": "VPP 24.02",
        "min_version": 0x200,
        "max_version": 0x200,
        "max_region": 255,
        "max_m2s_ring": 255,
        "max_s2m_ring": 255,
        "max_log2_ring_size": 14,
    }


def test_init_strings_are_bounded() -> None:
    m = codec_decode(msg(3, "HIB24s32s", 0x200, 7, 1, b"s" * 24, b"n" * 32))
    assert (m["version"], m["id"], m["mode"]) == (0x200, 7, 1)
    assert m["secret"] == "s" * 23 and m["name"] == "n" * 31


def test_add_region_and_ring() -> None:
    assert codec_decode(msg(4, "HQ", 1, 33024)) == {"type": "ADD_REGION", "index": 1, "size": 33024}
    m = codec_decode(msg(5, "HHHIBH", 1, 3, 0, 4224, 10, 0))
    assert (m["flags"], m["index"], m["region"], m["offset"], m["log2_ring_size"]) == (
        1,
        3,
        0,
        4224,
        10,
    )


def test_connect_disconnect_ack() -> None:
    assert codec_decode(msg(6, "32s", b"memif0/0"))["if_name"] == "memif0/0"
    assert codec_decode(msg(7, "32s", b"eth0"))["type"] == "CONNECTED"
    m = codec_decode(msg(8, "I96s", 5, b"incorrect secret"))
    assert (m["code"], m["string"]) == (5, "incorrect secret")
    assert codec_decode(msg(1)) == {"type": "ACK"}


@pytest.mark.parametrize("data", [b"", msg(2)[:127], msg(2) + b"x", msg(0), msg(9), msg(0xFFFF)])
def test_rejects_wrong_size_and_type(data: bytes) -> None:
    with pytest.raises(MemifError):
        codec_decode(data)
