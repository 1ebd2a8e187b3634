"""NETCONF over real SSH with raw bytes (asyncssh client), against the agent subprocess."""

from __future__ import annotations

import asyncio
import os
import stat
import time

import asyncssh
import pytest
from agent_harness import HELLO10, HELLO11, Raw, arun, chunk, rpc
from lxml import etree

from agent.errors import NC_NS

KILL_BAD = b"<kill-session><session-id>4000000</session-id></kill-session>"


def error_tag(reply: etree._Element) -> str | None:
    return reply.findtext(f"{{{NC_NS}}}rpc-error/{{{NC_NS}}}error-tag")


@pytest.fixture
def core(start_agent, tmp_path):
    return start_agent(tmp_path / "a", "--no-dataplane")


# -- framing over SSH -------------------------------------------------------------------


def test_multi_chunk_request(core):
    async def go():
        s = await Raw.open(core.port)
        msg = rpc(KILL_BAD, 42)
        # one message as many tiny chunks, written in pieces
        data = (
            b"".join(
                b"\n#%d\n%s" % (len(msg[i : i + 7]), msg[i : i + 7]) for i in range(0, len(msg), 7)
            )
            + b"\n##\n"
        )
        for i in range(0, len(data), 5):
            s.writer.write(data[i : i + 5])
            await asyncio.sleep(0)
        r = etree.fromstring(await s.read())
        assert r.get("message-id") == "42" and error_tag(r) == "invalid-value"
        s.close()

    arun(go())


def test_pipelined_rpcs_answered_in_order(core):
    async def go():
        s = await Raw.open(core.port)
        s.writer.write(b"".join(chunk(rpc(KILL_BAD, i)) for i in range(200)))
        ids = [etree.fromstring(await s.read()).get("message-id") for _ in range(200)]
        assert ids == [str(i) for i in range(200)]
        s.close()

    arun(go())


def test_base10_only_client_gets_eom_framing(core):
    async def go():
        s = await Raw.open(core.port, HELLO10)
        s.writer.write(rpc(KILL_BAD, 7) + b"]]>]]>" + rpc(KILL_BAD, 8) + b"]]>]]>")
        assert etree.fromstring(await s.read()).get("message-id") == "7"
        assert etree.fromstring(await s.read()).get("message-id") == "8"
        s.close()

    arun(go())


@pytest.mark.parametrize("junk", [b"\n#x\n", b"\n#0\n", b"#12\n", b"\n#99999999999\n"])
def test_broken_chunk_header_closes_only_that_session(core, junk):
    async def go():
        bad = await Raw.open(core.port)
        good = await Raw.open(core.port)
        bad.writer.write(chunk(rpc(KILL_BAD, 1)) + junk)
        # the RPC before the broken header is still answered, then the session ends
        assert etree.fromstring(await bad.read()).get("message-id") == "1"
        assert await bad.closed()
        r = await good.call(KILL_BAD, 2)
        assert r.get("message-id") == "2"
        good.close()

    arun(go())
    core.wait_log("framing error")


def test_malformed_and_envelope_errors_keep_session(core):
    async def go():
        s = await Raw.open(core.port)
        s.send(rpc(b"<get>", 1))
        r = etree.fromstring(await s.read())
        assert error_tag(r) == "malformed-message" and r.get("message-id") == "1"
        s.send(b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>')
        assert error_tag(etree.fromstring(await s.read())) == "missing-attribute"
        s.send(b'<rpc xmlns="urn:bad" message-id="3"><get/></rpc>')
        assert error_tag(etree.fromstring(await s.read())) == "unknown-namespace"
        assert error_tag(await s.call(b'<nope xmlns="urn:nowhere"/>', 4)) == "unknown-namespace"
        s.send(b"\xff\xfe\x00garbage")
        assert error_tag(etree.fromstring(await s.read())) == "malformed-message"
        r = await s.call(KILL_BAD, 6)
        assert r.get("message-id") == "6"
        s.close()

    arun(go())


def test_hello_with_session_id_closes(core):
    async def go():
        s = await Raw.open(
            core.port, HELLO11.replace(b"</hello>", b"<session-id>9</session-id></hello>")
        )
        assert await s.closed()

    arun(go())


# -- limits -----------------------------------------------------------------------------


def test_max_message_size_closes_session(start_agent, tmp_path):
    a = start_agent(tmp_path / "a", "--no-dataplane", "--max-message-size", "4096")

    async def go():
        big = await Raw.open(a.port)
        good = await Raw.open(a.port)
        big.writer.write(b"\n#100000\n" + b"x" * 100000)
        assert await big.closed()
        eom = await Raw.open(a.port, HELLO10)
        eom.writer.write(b"<rpc>" + b"y" * 20000)
        assert await eom.closed()
        assert (await good.call(KILL_BAD, 1)).get("message-id") == "1"

    arun(go())
    a.wait_log("exceeds 4096 bytes")


def test_idle_and_hello_timeouts(start_agent, tmp_path):
    a = start_agent(
        tmp_path / "a", "--no-dataplane", "--idle-timeout", "0.5", "--hello-timeout", "0.3"
    )

    async def go():
        idle = await Raw.open(a.port)
        t = time.monotonic()
        assert await idle.closed(timeout=5)
        assert 0.4 < time.monotonic() - t < 3
        mute = await Raw.open(a.port, hello=b"")
        assert await mute.closed(timeout=5)

    arun(go())
    a.wait_log("idle for 0.5s")
    a.wait_log("no <hello> within 0.3s")


def test_subscribed_session_is_not_idle(start_agent, tmp_path):
    a = start_agent(tmp_path / "a", "--no-dataplane", "--idle-timeout", "0.3")

    async def go():
        s = await Raw.open(a.port)
        r = await s.call(
            b'<create-subscription xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"/>', 1
        )
        assert r.find(f"{{{NC_NS}}}ok") is not None
        assert not await s.closed(timeout=1.0)
        other = await Raw.open(a.port)
        assert await other.closed(timeout=3)  # idle, closed
        s.close()

    arun(go())


def test_max_sessions(start_agent, tmp_path):
    a = start_agent(tmp_path / "a", "--no-dataplane", "--max-sessions", "2")

    async def go():
        s1 = await Raw.open(a.port)
        s2 = await Raw.open(a.port)
        with pytest.raises(asyncssh.ChannelOpenError):
            await Raw.open(a.port)
        s1.close()
        await asyncio.sleep(0.3)
        s3 = await Raw.open(a.port)
        assert (await s3.call(KILL_BAD, 1)).get("message-id") == "1"
        s2.close()
        s3.close()

    arun(go())


def test_other_subsystems_and_shell_refused(core):
    async def go():
        async with asyncssh.connect(
            "127.0.0.1",
            core.port,
            username="admin",
            password="admin",
            known_hosts=None,
            client_keys=None,
        ) as conn:
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_session(subsystem="sftp")
            with pytest.raises(asyncssh.ChannelOpenError):
                await conn.open_session()

    arun(go())


# -- authentication and algorithms ------------------------------------------------------


def test_wrong_password_refused_logged_and_slowed(core):
    async def go():
        t = time.monotonic()
        with pytest.raises(asyncssh.PermissionDenied):
            await Raw.open(core.port, password="wrong")
        t1 = time.monotonic() - t
        t = time.monotonic()
        with pytest.raises(asyncssh.PermissionDenied):
            await Raw.open(core.port, username="nobody", password="admin")
        t2 = time.monotonic() - t
        # each recent failure from the address adds 0.5 s before the answer
        assert t1 >= 0.45 and t2 >= 0.95
        s = await Raw.open(core.port)  # the right password still works
        s.close()

    arun(go())
    core.wait_log("failed login for user 'admin' from 127.0.0.1")
    core.wait_log("failed login for user 'nobody'")


@pytest.fixture(scope="module")
def client_keys():
    return {
        alg: asyncssh.generate_private_key(alg)
        for alg in ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa")
    }


def test_public_key_login(start_agent, tmp_path, client_keys):
    from agent.ssh.users import hash_password

    ed, ec, rsa = (client_keys[k] for k in ("ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"))
    other = asyncssh.generate_private_key("ssh-ed25519")
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "ops.keys").write_bytes(b"".join(k.export_public_key() for k in (ed, ec, rsa)))
    (conf / "users").write_text(
        "# test users\n"
        "ops::ops.keys:operators\n"
        f"both:{hash_password('pw')}:ops.keys:admin,operators\n"
    )
    a = start_agent(tmp_path / "a", "--no-dataplane", "--users", str(conf / "users"))

    async def go():
        for key in (ed, ec, rsa):
            s = await Raw.open(a.port, username="ops", password=None, client_keys=[key])
            assert (await s.call(KILL_BAD, 1)).get("message-id") == "1"
            s.close()
        with pytest.raises(asyncssh.PermissionDenied):
            await Raw.open(a.port, username="ops", password=None, client_keys=[other])
        with pytest.raises(asyncssh.PermissionDenied):  # ops has no password
            await Raw.open(a.port, username="ops", password="")
        s = await Raw.open(a.port, username="both", password="pw")
        s.close()

    arun(go())
    # paramiko (ncclient's SSH library) logs in with the RSA key too (rsa-sha2-*).
    import paramiko

    rsa_path = conf / "id_rsa"
    rsa_path.write_bytes(rsa.export_private_key())
    pkey = paramiko.RSAKey.from_private_key_file(str(rsa_path))
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    client.connect(
        "127.0.0.1", a.port, username="ops", pkey=pkey, allow_agent=False, look_for_keys=False
    )
    client.close()
    assert not (a.state_dir / "users").exists()  # an explicit --users file is used as is


def test_legacy_algorithms_refused(core):
    async def go():
        for kw in (
            {"encryption_algs": ["aes128-cbc"]},
            {"kex_algs": ["diffie-hellman-group1-sha1"]},
            {"mac_algs": ["hmac-sha1"], "encryption_algs": ["aes128-ctr"]},
        ):
            # The agent disconnects as soon as negotiation fails: on a busy machine the
            # client may see the socket close before it reads the reason.
            with pytest.raises(
                (asyncssh.KeyExchangeFailed, asyncssh.ProtocolError, asyncssh.ConnectionLost)
            ):
                await Raw.open(core.port, **kw)
        assert "started for" not in core.log()  # none of them got a session
        (await Raw.open(core.port)).close()

    arun(go())
    core.wait_log("session 1 started for")


# -- state files -------------------------------------------------------------------------


def test_state_files_created_private(core):
    st = core.state_dir
    assert stat.S_IMODE(os.stat(st).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(st / "ssh_host_ed25519_key").st_mode) == 0o600
    users = st / "users"
    assert stat.S_IMODE(os.stat(users).st_mode) == 0o600
    text = users.read_text()
    assert text.strip().splitlines()[-1].startswith("admin:scrypt$")
    assert "admin:admin" not in text
    assert "change it" in core.log()


def test_frozen_client_dropped_by_keepalive(start_agent, tmp_path):
    import signal
    import subprocess
    import sys

    a = start_agent(tmp_path / "a", "--no-dataplane", "--keepalive", "0.2")
    script = (
        "import asyncio, sys\n"
        "from agent_harness import Raw\n"
        "async def main():\n"
        f"    s = await Raw.open({a.port})\n"
        "    print(s.session_id, flush=True)\n"
        "    await asyncio.sleep(60)\n"
        "asyncio.run(main())\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(["tests/support", "."]))
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    try:
        sid = p.stdout.readline().strip()
        assert sid
        os.kill(p.pid, signal.SIGSTOP)  # the client stops answering, its socket stays open
        a.wait_log(f"session {sid} ended", timeout=10)
    finally:
        p.kill()
        p.wait()


def test_busy_client_is_not_dropped_by_keepalive(start_agent, tmp_path):
    # Traffic counts as life: with probes every 0.2 s, a client that keeps asking
    # (and answers probes) stays for many intervals.
    a = start_agent(tmp_path / "a", "--no-dataplane", "--keepalive", "0.2")
    m = a.connect()
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        m.get_config("running")
        time.sleep(0.05)
    time.sleep(1.0)  # then idle: probes answered by ncclient's transport
    assert m.connected
    m.get_config("running")


def test_asyncssh_internals_the_transport_relies_on():
    # agent.ssh.transport overrides these per connection (IGNORE padding, keepalive
    # timer); an asyncssh upgrade that renames them must fail here, not silently.
    import asyncssh.connection as c

    for name in (
        "send_packet",
        "_reset_keepalive_timer",
        "_keepalive_timer_callback",
        "_set_keepalive_timer",
        "_cancel_keepalive_timer",
    ):
        assert hasattr(c.SSHConnection, name), name
    src = __import__("inspect").getsource(c.SSHConnection._set_keepalive_timer)
    assert "self._keepalive_timer_callback" in src
    assert "self._keepalive_timer =" in src
