"""RESTCONF logins, access control, transports and errors: Basic auth against
the users file with the SSH logins' throttling, TLS client certificates, NACM as
for NETCONF, plain HTTP only on loopback, and RFC 8040 §7 errors for hostile
or wrong requests (the agent stays up and answers the next one)."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import subprocess
import sys

import pytest
import requests
from agent_harness import wait_until
from restconf_client import (
    NS,
    RC_NS,
    RESTCONF_ARGS,
    RestconfClient,
    error_tags,
    interface_body,
    socket_body,
)

from agent.ssh.users import hash_password

IF = "data/memif-agent:memif/interface"


def users_file(tmp_path, extra: str = ""):
    users = tmp_path / "users"
    users.write_text(
        f"admin:{hash_password('admin')}::admin\nops:{hash_password('pw-ops')}::operators\n" + extra
    )
    users.chmod(0o600)
    return users


@pytest.fixture
def ag(start_agent, tmp_path):
    users = users_file(tmp_path)
    return start_agent(tmp_path / "a", "--no-dataplane", "--users", str(users), *RESTCONF_ARGS)


def test_basic_auth(ag) -> None:
    anon = RestconfClient(ag, password=None)
    r = anon.get("data")
    assert r.status_code == 401 and error_tags(r) == ["access-denied"]
    assert r.headers["WWW-Authenticate"].startswith("Basic ")
    assert RestconfClient(ag, "admin", "wrong").get("data").status_code == 401
    assert RestconfClient(ag, "nobody", "admin").get("data").status_code == 401
    for header in ("Bearer abc", "Basic !!!", "Basic " + "QQ==" * 2000, "Basic Og=="):
        r = anon.get("data", headers={"Authorization": header})
        assert r.status_code == 401, header
    assert RestconfClient(ag, "ops", "pw-ops").get("data").status_code == 200
    assert RestconfClient(ag).get("data").status_code == 200


def test_failed_logins_lock_out_ssh_too(start_agent, tmp_path) -> None:
    """One password-guessing budget for SSH and RESTCONF."""
    from ncclient.transport.errors import AuthenticationError

    users = users_file(tmp_path)
    ag = start_agent(
        tmp_path / "a",
        "--no-dataplane",
        "--users",
        str(users),
        "--login-max-failures",
        "3",
        "--login-delay",
        "0.01",
        *RESTCONF_ARGS,
    )
    for _ in range(3):
        assert RestconfClient(ag, "ops", "guess").get("data").status_code == 401
    # the right password is refused now, over RESTCONF and over SSH
    assert RestconfClient(ag, "ops", "pw-ops").get("data").status_code == 401
    with pytest.raises(AuthenticationError):
        ag.connect("ops", "pw-ops")
    # ... and so is the address they came from, for every user
    assert RestconfClient(ag).get("data").status_code == 401


def test_nacm_as_for_netconf(ag) -> None:
    admin, ops = RestconfClient(ag), RestconfClient(ag, "ops", "pw-ops")
    assert admin.post("data/memif-agent:memif", socket_body(1, "/tmp/n1")).status_code == 201
    r = admin.put(f"{IF}=1,1", interface_body(1, 1, secret="s3cret"))
    assert r.status_code == 201, r.text
    # reads: pruned (the secret is default-deny-all), before fields/depth are applied
    assert "s3cret" in admin.get(f"{IF}=1,1").text
    got = ops.get(f"{IF}=1,1").json()["memif-agent:interface"][0]
    assert got == {"socket-id": 1, "id": 1}
    assert "secret" not in ops.get(f"{IF}=1,1?fields=secret").text
    assert ops.get(f"{IF}=1,1/secret").status_code == 404
    assert "s3cret" not in ops.get("data").text
    assert "s3cret" not in ops.get("ds/ietf-datastores:running").text
    # writes: 403 access-denied, nothing changed
    r = ops.post("data/memif-agent:memif", socket_body(2, "/tmp/n2"))
    assert r.status_code == 403 and error_tags(r) == ["access-denied"]
    r = ops.delete(f"{IF}=1,1")
    assert r.status_code == 403
    assert admin.get(f"{IF}=1,1").status_code == 200
    # the ETag a reader gets is of what it may read: a secret's change does not show
    tag = ops.get(f"{IF}=1,1").headers["ETag"]
    admin.put(f"{IF}=1,1/secret", {"memif-agent:secret": "other"})
    assert ops.get(f"{IF}=1,1").headers["ETag"] == tag
    # operations: NACM's operation check (get-schema is allowed to all in the
    # built-in policy; kill-session-like operations are not served at all)
    r = ops.post(
        "operations/ietf-netconf-monitoring:get-schema",
        {"ietf-netconf-monitoring:input": {"identifier": "memif-agent"}},
    )
    assert r.status_code == 200, r.text


def test_errors_and_hostile_requests(start_agent, tmp_path) -> None:
    ag = start_agent(
        tmp_path / "a", "--no-dataplane", "--max-message-size", "65536", *RESTCONF_ARGS
    )
    rc = RestconfClient(ag)
    rc.post("data/memif-agent:memif", socket_body(1, "/tmp/e1"))
    cases = [
        ("GET", "data/nonesuch:memif", None, None, 400),
        ("GET", "data/memif-agent:nonesuch", None, None, 404),
        ("GET", "data/memif", None, None, 400),  # no module
        ("GET", "data/memif-agent:memif/interface=1", None, None, 400),  # 1 of 2 keys
        ("GET", "data/memif-agent:memif/interface", None, None, 400),  # no keys
        ("GET", "data/memif-agent:memif=1", None, None, 400),  # a container takes none
        ("GET", "data/memif-agent:memif/socket=%ff", None, None, 400),  # not UTF-8
        ("GET", "data/memif-agent:memif/socket=%01", None, None, 400),  # control char
        ("GET", "data/memif-agent:memif/socket=9", None, None, 404),
        ("GET", "data/memif-agent:memif/socket=%ef%bf%be", None, None, 404),  # U+FFFE
        ("GET", "nonesuch", None, None, 404),
        ("DELETE", "", None, None, 405),
        ("PUT", f"{IF}=1,1", "plain text", "text/plain", 415),
        ("PUT", f"{IF}=1,1", "{", "json", 400),
        ("PUT", f"{IF}=1,1", "[1]", "json", 400),
        ("PUT", f"{IF}=1,1", '{"memif-agent:interface":[{"socket-id":1,"id":2}]}', "json", 400),
        ("PUT", f"{IF}=1,1", '{"memif-agent:interface":[{"socket-id":"x","id":1}]}', "json", 400),
        ("PUT", f"{IF}=1,1", '{"memif-agent:bogus":1}', "json", 400),
        ("PUT", f"{IF}=1,1", "[" * 60_000, "json", 400),
        ("PUT", f"{IF}=1,1", '{"a":' * 12_000, "json", 400),
        ("PUT", f"{IF}=1,1", b"\xff\xfe{}", "json", 400),
        ("PUT", f"{IF}=1,1", "<interface", "xml", 400),
        (
            "PUT",
            f"{IF}=1,1",
            '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f'<interface xmlns="{NS}"><socket-id>1</socket-id><id>1</id>'
            "<secret>&e;</secret></interface>",
            "xml",
            400,
        ),
        ("PUT", f"{IF}=1,1", "x" * 70_000, "json", 413),
        ("POST", "data/memif-agent:memif/socket=1/filename", '{"a":1}', "json", 400),
        ("PUT", "data/memif-agent:memif/socket=1/state", "{}", "json", 405),
        ("GET", "data/memif-agent:memif?depth=" + "9" * 50, None, None, 400),
        ("GET", "data/" + "a/" * 2500, None, None, 413),
        ("PATCH", "operations", "{}", "json", 405),
    ]
    for method, path, body, ctype, status in cases:
        for accept in ("json", "xml"):
            r = rc.request(method, path, body, content=ctype, accept=accept)
            assert r.status_code == status, (method, path, str(body)[:40], r.status_code, r.text)
            if accept == "json":
                errs = r.json()["ietf-restconf:errors"]["error"]
                assert errs[0]["error-tag"] and errs[0]["error-message"]
            else:
                assert f'xmlns="{RC_NS}"' in r.text and "<error-tag>" in r.text
            assert "Traceback" not in r.text and "<html" not in r.text.lower()
    r = rc.get("data", accept="text/html")
    assert r.status_code == 406
    # past aiohttp's request-line bound (8190 bytes) aiohttp answers itself: a
    # short plain-text 400, no page, no trace
    r = rc.get("data/" + "a/" * 5000)
    assert r.status_code == 400 and "Traceback" not in r.text and "<html" not in r.text
    # nothing of that reached the datastore, and the agent still answers
    assert "passwd" not in rc.get("data").text
    assert rc.get("data/memif-agent:memif/interface=1,1").status_code == 404
    assert ag.connect().get_config("running").data_xml


def test_plain_http_only_on_loopback(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a", "--no-dataplane", "--restconf-plain-http", *RESTCONF_ARGS)
    rc = RestconfClient(ag, scheme="http")
    assert rc.get("data").status_code == 200
    # no certificate is made for it, and an https client gets no TLS from it
    assert not (ag.state_dir / "restconf_cert.pem").exists()
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://127.0.0.1:{ag.restconf_port}/restconf/data", verify=False)
    state = tmp_path / "b"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "agent.main",
            "--port",
            "0",
            "--state-dir",
            str(state),
            "--no-dataplane",
            "--restconf-port",
            "0",
            "--restconf-address",
            "0.0.0.0",
            "--restconf-plain-http",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode != 0
    assert "only served on loopback" in r.stdout + r.stderr


def _ca_and_client(tmp_path, cn: str):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("test CA"))
        .issuer_name(name("test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    out = {}
    for who in (cn, "nobody"):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(who))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .sign(ca_key, hashes.SHA256())
        )
        c, k = tmp_path / f"{who}.pem", tmp_path / f"{who}.key"
        c.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        k.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        out[who] = (str(c), str(k))
    ca_path = tmp_path / "ca.pem"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    return ca_path, out


def test_client_certificates_map_to_users(start_agent, tmp_path) -> None:
    users = users_file(tmp_path)
    ca, certs = _ca_and_client(tmp_path, "ops")
    ag = start_agent(
        tmp_path / "a",
        "--no-dataplane",
        "--users",
        str(users),
        "--restconf-client-ca",
        str(ca),
        *RESTCONF_ARGS,
    )
    admin = RestconfClient(ag)
    admin.post("data/memif-agent:memif", socket_body(1, "/tmp/c1"))
    admin.put(f"{IF}=1,1", interface_body(1, 1, secret="s3cret"))
    ops = RestconfClient(ag, password=None, cert=certs["ops"])
    r = ops.get(f"{IF}=1,1")
    assert r.status_code == 200 and "s3cret" not in r.text  # logged in as ops: NACM applies
    assert ops.post("data/memif-agent:memif", socket_body(2, "/x")).status_code == 403
    # a certificate naming no user of the users file does not log in
    assert RestconfClient(ag, password=None, cert=certs["nobody"]).get("data").status_code == 401
    # password logins still work beside certificates
    assert admin.get("data").status_code == 200
    # a certificate from another CA fails the TLS handshake
    (tmp_path / "other").mkdir()
    _, foreign = _ca_and_client(tmp_path / "other", "ops")
    ctx = ssl.create_default_context(cafile=str(admin.cert_path))
    ctx.load_cert_chain(*foreign["ops"])
    try:
        with socket.create_connection(("127.0.0.1", ag.restconf_port)) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"GET /restconf/data HTTP/1.1\r\nHost: x\r\n\r\n")
                got = tls.recv(100)  # TLS 1.3 reports the refused certificate here
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        got = b""
    assert got == b""  # no HTTP answer


def test_connections_without_login_are_capped_and_timed_out(start_agent, tmp_path) -> None:
    ag = start_agent(
        tmp_path / "a",
        "--no-dataplane",
        "--max-startups",
        "2",
        "--login-timeout",
        "2",
        *RESTCONF_ARGS,
    )
    rc = RestconfClient(ag)
    assert rc.get("data").status_code == 200
    rc.close()
    idle = [socket.create_connection(("127.0.0.1", ag.restconf_port)) for _ in range(2)]
    try:
        # the gate is full: a new connection is closed before any request is read
        with pytest.raises(requests.exceptions.RequestException):
            RestconfClient(ag).get("data")
        # the idle ones are closed at the login timeout, and room is made
        for s in idle:
            s.settimeout(10)
            assert s.recv(10) == b""

        def served() -> bool:
            try:
                return RestconfClient(ag).get("data").status_code == 200
            except requests.exceptions.RequestException:
                return False

        assert wait_until(served, what="a login after the idle connections closed")
    finally:
        for s in idle:
            s.close()
    assert "connections without a login" in ag.log()
