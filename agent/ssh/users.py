"""Agent users: who may log in, how, and in which NACM groups.

The users file is plain text, one user per line, colon separated like
/etc/passwd (blank lines and lines starting with '#' are ignored):

    name:password-hash:authorized-keys-file:groups

- password-hash: empty (no password login), or `scrypt$N$r$p$SALT$HASH`
  (base64), or `pbkdf2-sha256$ITERATIONS$SALT$HASH`; make one with
  `memif-agent --hash-password` (reads the password from stdin).
- authorized-keys-file: empty, or an OpenSSH authorized_keys file (absolute,
  or relative to the users file) with ed25519/ecdsa/rsa keys.
- groups: comma-separated NACM group names.

Passwords are never stored in clear text. The file is re-read when it changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from functools import cache
from pathlib import Path

log = logging.getLogger(__name__)

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
DEFAULT_USER = "admin"
DEFAULT_PASSWORD = "admin"


@dataclass(frozen=True)
class User:
    name: str
    password_hash: str | None
    authorized_keys: Path | None
    groups: tuple[str, ...]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=64 * 1024 * 1024,
        dklen=32,
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(dk)}"


@cache
def dummy_hash() -> str:
    """A hash no password is known for, with the parameters of real ones: what a
    login of an unknown user is checked against, so that it costs the same."""
    return hash_password(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """Constant-time check of a password against a stored hash; unknown formats fail."""
    if not stored:
        return False
    parts = stored.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, want = base64.b64decode(parts[4]), base64.b64decode(parts[5])
            got = hashlib.scrypt(
                password.encode(),
                salt=salt,
                n=n,
                r=r,
                p=p,
                maxmem=256 * 1024 * 1024,
                dklen=len(want),
            )
        elif parts[0] == "pbkdf2-sha256" and len(parts) == 4:
            iterations = int(parts[1])
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations, len(want))
        else:
            return False
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def parse_users(text: str, base_dir: Path) -> dict[str, User]:
    users: dict[str, User] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split(":")
        if len(fields) != 4 or not fields[0]:
            raise ValueError(f"users file line {lineno}: expected name:hash:keys-file:groups")
        name, pw_hash, keys, groups = fields
        if pw_hash and pw_hash.split("$")[0] not in ("scrypt", "pbkdf2-sha256"):
            raise ValueError(
                f"users file line {lineno}: unsupported password hash for {name!r}"
                " (clear-text passwords are not accepted)"
            )
        key_path = (base_dir / keys) if keys else None
        users[name] = User(
            name=name,
            password_hash=pw_hash or None,
            authorized_keys=key_path,
            groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
        )
    return users


def format_user(user: User) -> str:
    keys = str(user.authorized_keys) if user.authorized_keys else ""
    return f"{user.name}:{user.password_hash or ''}:{keys}:{','.join(user.groups)}"


def write_default_users(path: Path) -> None:
    """Create the users file with admin/admin (group admin), mode 0600."""
    user = User(DEFAULT_USER, hash_password(DEFAULT_PASSWORD), None, ("admin",))
    text = (
        "# memif-agent users: name:password-hash:authorized-keys-file:groups\n"
        "# Hash a password with: memif-agent --hash-password\n"
        f"{format_user(user)}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


class UserDB:
    """The users file, re-read when its mtime or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._users: dict[str, User] = {}
        self.reload()

    def reload(self, force: bool = False) -> None:
        """Re-read the file if it changed (or, with `force`, in any case: a file
        replaced within one time-stamp tick keeps its size and mtime)."""
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp and not force:
            return
        if st.st_mode & 0o077:
            log.warning(
                "users file %s is readable by others (mode %o); use 0600",
                self.path,
                st.st_mode & 0o777,
            )
        self._users = parse_users(self.path.read_text(), self.path.parent)
        self._stamp = stamp

    def get(self, name: str) -> User | None:
        try:
            self.reload()
        except (OSError, ValueError) as e:
            # Keep serving the last good file rather than locking everyone out.
            log.error("cannot re-read users file %s: %s", self.path, e)
        return self._users.get(name)

    def groups(self, name: str) -> tuple[str, ...]:
        user = self.get(name)
        return user.groups if user else ()

    def all(self) -> dict[str, User]:
        self.get("")
        return dict(self._users)
