"""10,000 sockets with 10,000 interfaces validate (typed parse + rules +
libyang) in under a second: cross-entry rules must stay O(n)."""

import time

from lxml import etree

from agent.yangdata.validate import validate_config

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = "urn:memif-agent:yang:memif-agent"


def big_config(n: int) -> etree._Element:
    parts = [f'<config xmlns="{NC}"><memif xmlns="{NS}">']
    parts += [
        f"<socket><id>{i}</id><filename>/run/m/{i}.sock</filename></socket>"
        for i in range(1, n + 1)
    ]
    parts += [
        f"<interface><socket-id>{i}</socket-id><id>{i}</id><enabled>true</enabled>"
        f"<role>{'client' if i % 2 else 'server'}</role><secret>k{i}</secret></interface>"
        for i in range(1, n + 1)
    ]
    parts.append("</memif></config>")
    return etree.fromstring("".join(parts).encode())


def test_10k_sockets_and_interfaces_validate_under_1s() -> None:
    doc = big_config(10_000)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        cfg = validate_config(doc)
        best = min(best, time.perf_counter() - t)
    assert len(cfg.interfaces) == 10_000 and len(cfg.sockets) == 10_000
    assert best < 1.0, f"validation of 10k+10k took {best:.3f} s"
