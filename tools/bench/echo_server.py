"""Anchor for NETCONF benchmarks: an asyncssh server that answers every
base:1.1 message with a fixed <ok/> reply, without parsing it. What the agent
does on top of this floor is its own cost. It runs asyncssh as the agent does
(no IGNORE packet before each packet, no line editor), so the floor is fair."""

from __future__ import annotations

import asyncio
import re
import sys
import tempfile
from pathlib import Path

import asyncssh

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from agent.ssh.transport import without_ignore_padding  # noqa: E402

HELLO = (
    b'<hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities>'
    b"<capability>urn:ietf:params:netconf:base:1.1</capability></capabilities>"
    b"<session-id>1</session-id></hello>]]>]]>"
)
_MID = re.compile(rb'message-id="([^"]*)"')


async def _session(reader, writer) -> None:
    writer.write(HELLO)
    await reader.readuntil(b"]]>]]>")
    while True:
        parts = []
        try:
            while True:
                head = await reader.readuntil(b"\n")
                if head == b"\n":
                    continue
                if head.startswith(b"##"):
                    break
                parts.append(await reader.readexactly(int(head[1:-1])))
        except (asyncio.IncompleteReadError, asyncssh.Error):
            return
        m = _MID.search(b"".join(parts))
        body = (
            b'<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="%s">'
            b"<ok/></rpc-reply>" % (m.group(1) if m else b"")
        )
        writer.write(b"\n#%d\n%s\n##\n" % (len(body), body))


class _Server(asyncssh.SSHServer):
    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        without_ignore_padding(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return True


async def main() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    keyfile = Path(tempfile.mkdtemp()) / "hostkey"
    key.write_private_key(keyfile)

    async def handle(process: asyncssh.SSHServerProcess) -> None:
        await _session(process.stdin, process.stdout)

    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_factory=_Server,
        server_host_keys=[str(keyfile)],
        encoding=None,
        process_factory=handle,
        allow_scp=False,
        line_editor=False,
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
