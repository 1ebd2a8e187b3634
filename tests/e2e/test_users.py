"""Users file: hashing, parsing, reload, and the --hash-password command."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys

import pytest

from agent.ssh.users import UserDB, hash_password, parse_users, verify_password


def test_scrypt_hash_verifies_and_is_salted():
    h1, h2 = hash_password("s3cret"), hash_password("s3cret")
    assert h1 != h2 and h1.startswith("scrypt$16384$8$1$")
    assert verify_password(h1, "s3cret") and verify_password(h2, "s3cret")
    assert not verify_password(h1, "s3cret ") and not verify_password(h1, "")
    assert not verify_password(None, "") and not verify_password("garbage", "x")


def test_pbkdf2_hash_accepted():
    salt = b"0123456789abcdef"
    dk = hashlib.pbkdf2_hmac("sha256", b"pw", salt, 1000, 32)
    stored = f"pbkdf2-sha256$1000${base64.b64encode(salt).decode()}${base64.b64encode(dk).decode()}"
    assert verify_password(stored, "pw") and not verify_password(stored, "pw2")


def test_parse_users(tmp_path):
    h = hash_password("x")
    users = parse_users(f"# c\n\nadmin:{h}::admin\nops::keys/ops:operators, readers\n", tmp_path)
    assert users["admin"].groups == ("admin",) and users["admin"].authorized_keys is None
    assert users["ops"].password_hash is None
    assert users["ops"].authorized_keys == tmp_path / "keys/ops"
    assert users["ops"].groups == ("operators", "readers")


@pytest.mark.parametrize("line", ["admin:admin::admin", "admin:x", "::keys:g"])
def test_parse_users_refuses_cleartext_and_bad_lines(tmp_path, line):
    with pytest.raises(ValueError):
        parse_users(line + "\n", tmp_path)


def test_userdb_reloads_on_change_and_keeps_last_good(tmp_path):
    path = tmp_path / "users"
    path.write_text(f"a:{hash_password('1')}::g1\n")
    os.chmod(path, 0o600)
    db = UserDB(path)
    assert db.groups("a") == ("g1",)
    path.write_text(f"a:{hash_password('1')}::g2,g3\nb::k:g\n")
    assert db.groups("a") == ("g2", "g3") and db.get("b") is not None
    path.write_text("broken line\n")
    assert db.groups("a") == ("g2", "g3")  # last good file still served


def test_hash_password_command():
    out = subprocess.run(
        [sys.executable, "-m", "agent.main", "--hash-password"],
        input="hunter2\n",
        capture_output=True,
        text=True,
        check=True,
    )
    stored = out.stdout.strip()
    assert verify_password(stored, "hunter2")


def test_agent_stops_cleanly_on_sigterm(start_agent, tmp_path):
    a = start_agent(tmp_path / "a", "--no-dataplane")
    m = a.connect()
    assert m.connected
    assert a.stop() == 0
    assert "shutting down" in a.log()
    # a second start reuses the host key and users file
    key = (a.state_dir / "ssh_host_ed25519_key").read_bytes()
    a.start()
    assert (a.state_dir / "ssh_host_ed25519_key").read_bytes() == key
    assert a.log().count("created users file") == 1
    assert a.connect().connected


def test_loose_state_permissions_are_tightened(start_agent, tmp_path):
    state = tmp_path / "a" / "state"
    state.mkdir(parents=True)
    os.chmod(state, 0o755)
    a = start_agent(tmp_path / "a", "--no-dataplane")
    key = state / "ssh_host_ed25519_key"
    a.stop()
    os.chmod(key, 0o644)
    a.start()
    assert oct(os.stat(state).st_mode & 0o777) == "0o700"
    assert oct(os.stat(key).st_mode & 0o777) == "0o600"
    assert "tightening to 0700" in a.log() and "tightening to 0600" in a.log()
