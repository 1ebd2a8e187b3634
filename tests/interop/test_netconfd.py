"""The netconfd launcher (tests/support/netconfd.py) that benchmarks and differential
tests compare the agent with: real sessions from ncclient and paramiko, and
every process gone afterwards."""

from __future__ import annotations

import os

import ncclient.transport.session
import paramiko
import pytest
from ncclient import manager
from netconfd import Netconfd, _alive, available

ncclient.transport.session.TICK = 0.001

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

NS = "urn:memif-agent:yang:memif-agent"
CONFIG = (
    f'<config><memif xmlns="{NS}"><socket><id>7</id><filename>/tmp/nc-7.sock</filename>'
    "</socket></memif></config>"
)


def test_edit_commit_and_clean_exit(tmp_path) -> None:
    with Netconfd(tmp_path) as nc:
        pids = [nc.sshd.pid, nc.netconfd.pid]
        with manager.connect(**nc.ncclient_kwargs()) as m:
            assert ":candidate" in " ".join(m.server_capabilities)
            m.edit_config(target="candidate", config=CONFIG)
            assert "nc-7.sock" not in m.get_config("running").data_xml
            m.commit()
            assert "/tmp/nc-7.sock" in m.get_config("running").data_xml
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        client.connect(**nc.paramiko_kwargs())
        chan = client.get_transport().open_session()
        chan.invoke_subsystem("netconf")
        hello = b""
        while b"]]>]]>" not in hello:
            data = chan.recv(65536)
            assert data, "netconfd closed the session before its hello"
            hello += data
        assert b"urn:ietf:params:netconf:base:1.1" in hello
        client.close()
    assert not any(_alive(p) for p in pids)
    assert not os.path.exists(tmp_path / "sshd.pid") or not _alive(
        int((tmp_path / "sshd.pid").read_text())
    )


def test_refuses_other_keys(tmp_path) -> None:
    with Netconfd(tmp_path / "a") as nc, Netconfd(tmp_path / "b") as other:
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(**dict(nc.paramiko_kwargs(), key_filename=other.key_filename))
        client.close()


def test_startup_is_private_to_the_instance(tmp_path) -> None:
    with Netconfd(tmp_path / "a") as nc:
        with manager.connect(**nc.ncclient_kwargs()) as m:
            m.edit_config(target="candidate", config=CONFIG)
            m.commit()
            m.copy_config(source="running", target="startup")
        assert "/tmp/nc-7.sock" in nc.startup.read_text()
    with Netconfd(tmp_path / "b") as other:
        with manager.connect(**other.ncclient_kwargs()) as m:
            assert "nc-7.sock" not in m.get_config("running").data_xml
            assert "nc-7.sock" not in m.get_config("startup").data_xml
