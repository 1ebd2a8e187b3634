"""A minimal NETCONF 1.1 client on asyncssh for benchmarks: ncclient spends
~0.6 ms of its own CPU per request, which would hide the agent's speed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncssh

from agent.ssh.transport import without_ignore_padding

HELLO = (
    b'<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0">'
    b"<capabilities><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>"
    b"</hello>]]>]]>"
)
_CHUNK = re.compile(rb"\n#(\d+)\n")


class RawSession:
    def __init__(self, conn: asyncssh.SSHClientConnection, writer, reader) -> None:
        self.conn, self.writer, self.reader = conn, writer, reader
        self.mid = 0

    @classmethod
    async def open(cls, port: int, user: str = "admin", password: str = "admin") -> RawSession:
        """A session to the agent (password login)."""
        return await cls.connect(
            host="127.0.0.1", port=port, username=user, password=password, known_hosts=None
        )

    @classmethod
    async def connect(cls, settle: float = 0.0, **login: Any) -> RawSession:
        """A session with asyncssh.connect arguments `login` (host, port, credentials):
        the same client for every server compared. `settle`: seconds to wait after
        sending the hello (netconfd loses an RPC that follows the hello at once)."""
        conn = await asyncssh.connect(
            encryption_algs=["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"], **login
        )
        # Like ncclient/paramiko and OpenSSH, send no SSH_MSG_IGNORE before each
        # packet (asyncssh's CBC-era habit): servers are measured on what real
        # clients send them.
        without_ignore_padding(conn)
        writer, reader, _ = await conn.open_session(subsystem="netconf", encoding=None)
        await reader.readuntil(b"]]>]]>")
        writer.write(HELLO)
        if settle:
            await asyncio.sleep(settle)
        return cls(conn, writer, reader)

    async def call(self, body: bytes) -> bytes:
        self.mid += 1
        msg = b'<rpc xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%d">%s</rpc>' % (
            self.mid,
            body,
        )
        self.writer.write(b"\n#%d\n%s\n##\n" % (len(msg), msg))
        return await self.read()

    async def read(self) -> bytes:
        parts = []
        while True:
            head = await self.reader.readuntil(b"\n")
            if head == b"\n":
                head = await self.reader.readuntil(b"\n")
            if head.startswith(b"##"):
                return b"".join(parts)
            size = int(head[1:-1])
            parts.append(await self.reader.readexactly(size))

    def close(self) -> None:
        self.conn.close()


def run(coro):
    return asyncio.run(coro)
