"""Independent clients against the agent (issue 13 items 12-14): scrapli-netconf
over system OpenSSH (which always asks for a PTY) and over asyncssh, base:1.0
and 1.1; netconf-console2; raw OpenSSH `ssh -s netconf` and `ssh -tt`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from agent_harness import HELLO11, AgentProcess, Framer, arun, chunk, rpc
from lxml import etree

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
GET_CONFIG = b"<get-config><source><running/></source></get-config>"
VENV_BIN = Path(sys.executable).parent


def _memif_ns() -> str:
    from test_limits_wire import _ns_memif

    return _ns_memif()


@pytest.fixture(scope="module")
def client_agent(tmp_path_factory):
    """An agent whose admin also logs in with an SSH key (OpenSSH in batch mode)."""
    from agent.ssh.users import hash_password

    work = tmp_path_factory.mktemp("clients")
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    state = work / "agent" / "state"
    state.mkdir(parents=True, mode=0o700)
    keys = state / "admin_keys"
    keys.write_text(Path(f"{key}.pub").read_text())
    users = state / "users"
    users.write_text(f"admin:{hash_password('admin')}:{keys}:admin\n")
    users.chmod(0o600)
    a = AgentProcess(work / "agent", "--no-dataplane").start()
    a.key = key
    ns = _memif_ns()
    with a.connect() as m:
        m.edit_config(
            target="candidate",
            config=f'<config xmlns="{NC}"><memif xmlns="{ns}"><socket><id>7</id>'
            "<filename>/tmp/clients7.sock</filename></socket></memif></config>",
        )
        m.commit()
    yield a
    a.stop()


def _ssh(agent, *extra: str) -> list[str]:
    return [
        "ssh",
        "-p",
        str(agent.port),
        "-i",
        str(agent.key),
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        *extra,
        "admin@127.0.0.1",
        "-s",
        "netconf",
    ]


def chunked_messages(data: bytes) -> list[bytes]:
    f = Framer()
    f.set_chunked()
    return f.messages(data)


@pytest.mark.parametrize("tty", [False, True], ids=["ssh-s", "ssh-tt"])
def test_openssh_one_write_gets_every_reply_and_exit_0(client_agent, tty):
    """hello + get-config + close-session in one write: both replies, every
    time, and ssh exits 0 (the agent sends exit-status 0 before closing)."""
    payload = (
        HELLO11
        + chunk(b'\n<?xml version="1.0"?>\n' + rpc(GET_CONFIG, 1))
        + chunk(rpc(b"<close-session/>", 2))
    )
    for _ in range(12):
        r = subprocess.run(
            _ssh(client_agent, *(["-tt"] if tty else [])),
            input=payload,
            capture_output=True,
            timeout=30,
        )
        assert r.returncode == 0, (r.returncode, r.stderr)
        server_hello, rest = r.stdout.split(b"]]>]]>", 1)
        assert etree.fromstring(server_hello).tag == f"{{{NC}}}hello"
        # Binary-clean under a PTY: no CR/LF translation breaks the chunk sizes.
        replies = [etree.fromstring(m) for m in chunked_messages(rest)]
        assert [x.get("message-id") for x in replies] == ["1", "2"], r.stdout
        assert replies[0].find(f".//{{{_memif_ns()}}}socket") is not None
        assert replies[1].find(f"{{{NC}}}ok") is not None


def test_asyncssh_pty_channel_is_binary_clean_and_exit_status_0(client_agent):
    async def go():
        import asyncssh

        conn = await asyncssh.connect(
            "127.0.0.1",
            client_agent.port,
            username="admin",
            password="admin",
            known_hosts=None,
            client_keys=None,
        )
        got = bytearray()
        writer, reader, _ = await conn.open_session(
            subsystem="netconf", term_type="vt100", encoding=None
        )
        # CR, LF and CRLF in the data must arrive as sent (no echo, no mapping).
        body = b"<get-config>\r\n<source>\r<running/>\n</source></get-config>"
        writer.write(HELLO11 + chunk(rpc(body, 5)) + chunk(rpc(b"<close-session/>", 6)))
        while True:
            data = await reader.read(65536)
            if not data:
                break
            got += data
        await writer.channel.wait_closed()
        assert writer.channel.get_exit_status() == 0
        conn.close()
        rest = bytes(got).split(b"]]>]]>", 1)[1]
        replies = [etree.fromstring(m) for m in chunked_messages(rest)]
        assert [x.get("message-id") for x in replies] == ["5", "6"]
        assert replies[0].find(f"{{{NC}}}data") is not None

    arun(go())


@pytest.mark.parametrize("version", ["1.0", "1.1"])
@pytest.mark.parametrize("transport", ["system", "asyncssh"])
def test_scrapli_netconf(client_agent, transport, version):
    ns = _memif_ns()

    async def run_async():
        from scrapli_netconf.driver import AsyncNetconfDriver

        conn = AsyncNetconfDriver(**args)
        await conn.open()
        try:
            return await conn.get_config(source="running"), await conn.get(
                filter_=f'<memif xmlns="{ns}"><socket/></memif>', filter_type="subtree"
            )
        finally:
            await conn.close()

    def run_sync():
        from scrapli_netconf.driver import NetconfDriver

        conn = NetconfDriver(**args)
        conn.open()
        try:
            return conn.get_config(source="running"), conn.get(
                filter_=f'<memif xmlns="{ns}"><socket/></memif>', filter_type="subtree"
            )
        finally:
            conn.close()

    args = dict(
        host="127.0.0.1",
        port=client_agent.port,
        auth_username="admin",
        auth_password="admin",
        auth_strict_key=False,
        transport=transport,
        preferred_netconf_version=version,
        timeout_ops=30,
    )
    results = arun(run_async()) if transport == "asyncssh" else run_sync()
    for r in results:
        assert not r.failed, r.result
        reply = etree.fromstring(r.result.encode())
        assert reply.find(f".//{{{ns}}}socket/{{{ns}}}id").text == "7", r.result
    client_agent.wait_log("close-session")


@pytest.mark.parametrize("version", ["1.0", "1.1"])
def test_netconf_console2(client_agent, version):
    base = [
        str(VENV_BIN / "netconf-console2"),
        "--host",
        "127.0.0.1",
        "--port",
        str(client_agent.port),
        "-u",
        "admin",
        "-p",
        "admin",
        "-v",
        version,
    ]
    ns = _memif_ns()
    for extra in (["--get-config"], ["--get", "-x", "/memif/socket"]):
        r = subprocess.run(base + extra, capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        data = etree.fromstring(r.stdout)
        assert data.find(f".//{{{ns}}}socket/{{{ns}}}id").text == "7", r.stdout
