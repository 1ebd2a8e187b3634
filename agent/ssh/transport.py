"""NETCONF over SSH (RFC 6242) with asyncssh: the only module here doing network I/O.

One SSH connection may open one `netconf` subsystem channel; each becomes a
sans-I/O `agent.netconf.session.Session`. Replies are written strictly in request
order: synchronous handlers are answered inline, and while an asynchronous
handler runs, later requests wait in a per-session queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from pathlib import Path

import asyncssh

from agent.netconf.session import CLOSE, EndReason, Session, SessionState, Unparsed
from agent.server import Server
from agent.ssh.logins import LoginGuard, check_password

log = logging.getLogger(__name__)

# Modern algorithms only: no SHA-1, no CBC, no DSA, no group1/group14-sha1.
KEX_ALGS = [
    "mlkem768x25519-sha256",
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "curve448-sha512",
    "ecdh-sha2-nistp521",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp256",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group14-sha256",
]
# chacha20-poly1305 is left out on purpose: asyncssh builds two cipher contexts
# per packet for it in Python, which halved RPC throughput here; AES-GCM runs in
# OpenSSL with AES-NI and every current client offers it.
ENCRYPTION_ALGS = [
    "aes128-gcm@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-ctr",
    "aes192-ctr",
    "aes256-ctr",
]
MAC_ALGS = [
    "hmac-sha2-256-etm@openssh.com",
    "hmac-sha2-512-etm@openssh.com",
    "hmac-sha2-256",
    "hmac-sha2-512",
]
SIGNATURE_ALGS = [
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "rsa-sha2-512",
    "rsa-sha2-256",
]

# Stop reading from a client that queues this many requests without reading replies.
_MAX_QUEUED = 64
# A client that leaves this much output unread (e.g. notifications it never
# reads) is disconnected rather than buffered without bound.
_MAX_UNREAD = 64 * 1024 * 1024


_MSG_IGNORE = 2
# After close-session: how long the reply may take to drain, and the client to
# close its side, before the connection is closed anyway.
_CLOSE_LINGER = 10.0


class InputBudget:
    """Bytes of unfinished or not yet parsed input held for all sessions together.

    Each message is bounded by --max-message-size; this bounds their sum, so
    --max-sessions sessions all sending big messages slowly cannot add up
    beyond it. A session whose input takes the total past the limit is closed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def charge(self, old: int, new: int) -> bool:
        """Move one session's charge from `old` to `new` bytes; False if the
        total is then over the limit (the caller closes that session)."""
        self.used += new - old
        return not self.limit or new <= old or self.used <= self.limit


class PreAuthGate:
    """Caps connections that have not authenticated yet (OpenSSH MaxStartups).

    A connection over the cap is closed at once, before key exchange, so idle
    or slow connections cannot take every descriptor or the CPU. When full, the
    oldest connection that has not even begun user authentication (idle TCP, a
    stalled key exchange) is closed to make room for the new one: held slots
    cannot lock legitimate users out, and a connection that reaches user
    authentication (tens of milliseconds for a real client) is safe from
    eviction. Only connections all in authentication fill the cap for good.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._pending: dict[_SSHServer, float] = {}  # insertion order = age
        self.refused = 0
        self.evicted = 0
        self._last_log = self._last_evict_log = 0.0

    def admit(self, conn: _SSHServer) -> bool:
        if not self.limit:
            return True
        now = time.monotonic()
        if len(self._pending) >= self.limit:
            victim = next(
                (c for c, t in self._pending.items() if not c.auth_begun),
                None,
            )
            if victim is None:
                self.refused += 1
                if now - self._last_log >= 1.0:  # one line a second under a flood
                    self._last_log = now
                    log.warning(
                        "refusing SSH connection from %s: %d connections in "
                        "authentication (max-startups); %d refused so far",
                        conn.peer,
                        len(self._pending),
                        self.refused,
                    )
                return False
            self.evicted += 1
            if now - self._last_evict_log >= 1.0:
                self._last_evict_log = now
                log.warning(
                    "closing SSH connection from %s: not yet in authentication, making"
                    " room for a new one (max-startups); %d closed so far",
                    victim.peer,
                    self.evicted,
                )
            self.done(victim)
            victim.abort()
        self._pending[conn] = now
        return True

    def done(self, conn: _SSHServer) -> None:
        self._pending.pop(conn, None)

    def __len__(self) -> int:
        return len(self._pending)


def without_ignore_padding(conn: asyncssh.SSHServerConnection) -> None:
    """Stop this connection putting an empty SSH_MSG_IGNORE before every packet.

    asyncssh (2.24) sends one ahead of each encrypted packet: a countermeasure
    against chosen-plaintext attacks on CBC mode (RFC 4251 §9.3.1). This server
    offers no CBC cipher (ENCRYPTION_ALGS: GCM and CTR only), and the extra
    packet doubled the encryptions and send() calls of every NETCONF reply.
    The override is per connection object, shadowing the class method.
    """
    send = conn.send_packet
    empty = (b"\0\0\0\0",)  # asyncssh String(b"")

    def send_packet(pkttype: int, *args: bytes, handler=None) -> None:
        if pkttype == _MSG_IGNORE and args == empty:
            return
        send(pkttype, *args, handler=handler)

    conn.send_packet = send_packet


def lazy_keepalive(conn: asyncssh.SSHServerConnection) -> None:
    """Keep asyncssh's keepalive (a probe after `keepalive` seconds without
    traffic, the session dropped after 3 unanswered) without re-arming a timer for
    every packet received.

    asyncssh (2.24) cancels and re-schedules its keepalive timer on each received
    packet: ~10% of the agent's CPU per small request. Here a packet only notes
    the time; when the timer fires after traffic, it re-arms itself for the rest
    of the interval instead of probing. Relies on asyncssh internals
    (tests/e2e/test_transport.py checks they are still there).
    """
    loop = asyncio.get_running_loop()
    last = [loop.time()]
    probe = conn._keepalive_timer_callback

    def packet_received() -> None:
        last[0] = loop.time()

    def timer_fired() -> None:
        due = last[0] + conn._keepalive_interval
        if loop.time() < due:
            conn._keepalive_timer = loop.call_at(due, timer_fired)
        else:
            probe()  # re-arms through _set_keepalive_timer, which finds timer_fired

    conn._reset_keepalive_timer = packet_received
    conn._keepalive_timer_callback = timer_fired


class _SSHServer(asyncssh.SSHServer):
    def __init__(
        self,
        server: Server,
        guard: LoginGuard,
        gate: PreAuthGate,
        budget: InputBudget,
    ) -> None:
        self._server = server
        self._guard = guard
        self._gate = gate
        self._budget = budget
        self._conn: asyncssh.SSHServerConnection | None = None
        self._peer = "?"
        self.auth_begun = False

    @property
    def peer(self) -> str:
        return self._peer

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        peer = conn.get_extra_info("peername") or ("?", 0)
        self._peer = str(peer[0])
        if not self._gate.admit(self):
            # Closed before asyncssh sends its version: the descriptor is free
            # again at once.
            conn.abort()
            return
        without_ignore_padding(conn)
        lazy_keepalive(conn)

    def abort(self) -> None:
        if self._conn is not None:
            self._conn.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self._gate.done(self)
        if exc is not None:
            log.debug("SSH connection from %s lost: %s", self._peer, exc)

    def auth_completed(self) -> None:
        self._gate.done(self)

    def begin_auth(self, username: str) -> bool:
        self.auth_begun = True
        users = self._server.users
        user = users.get(username) if users is not None else None
        if user is not None and user.authorized_keys is not None:
            try:
                self._conn.set_authorized_keys(str(user.authorized_keys))
            except (OSError, ValueError, asyncssh.KeyImportError) as e:
                log.error(
                    "cannot read authorized keys %s of user %s: %s",
                    user.authorized_keys,
                    username,
                    e,
                )
        return True  # always ask: do not reveal which user names exist

    def password_auth_supported(self) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    async def validate_password(self, username: str, password: str) -> bool:
        ok = await check_password(
            self._guard, self._server.users, username, password, self._peer, "password"
        )
        if ok:
            log.info("user %s logged in from %s (password)", username, self._peer)
        return ok

    def session_requested(self):
        return NetconfChannel(self._server, self._peer, self._budget)


class NetconfChannel(asyncssh.SSHServerSession):
    """Glue between one SSH channel and one sans-I/O Session."""

    def __init__(self, server: Server, peer: str, budget: InputBudget | None = None) -> None:
        self._server = server
        self._peer = peer
        self._budget = budget or InputBudget(0)
        self._charged = 0  # bytes of this session's input counted in the budget
        self._unparsed = 0  # of which: queued messages not parsed yet
        self._closing = False  # close-session answered: draining, then exit-status
        self._chan_gone = False
        self._conn = None
        self._chan = None
        self.session: Session | None = None
        self._queue: deque = deque()
        self._busy = False  # an async handler is running
        self._write_paused = False
        self._read_paused = False
        self._closed = False
        self._last_activity = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncssh callbacks ---------------------------------------------------

    def connection_made(self, chan) -> None:
        self._chan = chan
        self._conn = chan.get_extra_info("connection")

    def pty_requested(self, term_type, term_size, term_modes) -> bool:
        # Accepted for clients that always ask for one (ssh -tt, scrapli's
        # system transport). No terminal is attached: asyncssh has no pty on
        # this side and the line editor is off, so the channel stays
        # binary-clean (no echo, no CR/LF translation) and modes are ignored.
        return True

    def shell_requested(self) -> bool:
        return False

    def exec_requested(self, command: str) -> bool:
        return False

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "netconf":
            return False
        opts = self._server.options
        max_sessions = getattr(opts, "max_sessions", 0) or 0
        if max_sessions and len(self._server.sessions) >= max_sessions:
            log.warning(
                "refusing NETCONF session from %s: %d sessions open (max-sessions)",
                self._peer,
                len(self._server.sessions),
            )
            self._server.stats.dropped_sessions += 1
            return False
        return True

    def session_started(self) -> None:
        if self.session is not None:
            return
        username = self._chan.get_extra_info("username") or ""
        session = self._server.new_session(username, self._peer)
        session.transport = self
        self.session = session
        log.info("session %d started for %s from %s", session.session_id, username, self._peer)
        self._chan.write(session.hello())
        self._arm_timer()

    def data_received(self, data: bytes, datatype) -> None:
        if datatype is not None or self._closed or self.session is None:
            return
        self._last_activity = time.monotonic()
        try:
            actions = self.session.receive(data)
            if actions:
                for a in actions:
                    if a.__class__ is Unparsed:
                        self._unparsed += len(a)
                self._queue.extend(actions)
            if not self._recharge():
                return
            if actions and not self._busy and not self._write_paused:
                self._drain()
        except Exception:
            # A bug must cost this session only, never the agent.
            log.exception("session %d: internal error; closing it", self.session.session_id)
            self.session.ending(EndReason.OTHER)
            self.close("internal error")
            return
        if len(self._queue) > _MAX_QUEUED and not self._read_paused:
            self._read_paused = True
            self._chan.pause_reading()

    def eof_received(self) -> bool:
        self.close("client sent EOF")
        return False

    def pause_writing(self) -> None:
        self._write_paused = True
        if not self._read_paused:
            self._read_paused = True
            self._chan.pause_reading()

    def resume_writing(self) -> None:
        self._write_paused = False
        if not self._busy:
            self._drain()

    def _recharge(self) -> bool:
        """Update this session's share of the input budget; False (and the
        session closed) if the agent-wide budget is exceeded."""
        held = self.session.framer.buffered() + self._unparsed
        old, self._charged = self._charged, held
        if self._budget.charge(old, held):
            return True
        log.warning(
            "session %d from %s: closing it, its %d bytes of unfinished input take"
            " all sessions' input to %d bytes, over --max-input-buffer %d",
            self.session.session_id,
            self._peer,
            held,
            self._budget.used,
            self._budget.limit,
        )
        self.session.ending(EndReason.OTHER)
        self.close("input budget exceeded (max-input-buffer)")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._chan_gone = True
        self._release_budget()
        if self._conn is not None:
            # One NETCONF session per SSH connection: the channel is gone (after
            # close-session, once the client has closed its side too).
            self._conn.close()
        if self._timer is not None:
            self._timer.cancel()
        if self.session is not None:
            log.info(
                "session %d ended (%s)", self.session.session_id, exc if exc else "channel closed"
            )
            self._server.end_session(self.session)

    # -- transport interface used by Session ------------------------------------

    def write(self, data: bytes) -> None:
        """Out-of-band output (notifications) from the session."""
        if self._closed:
            return
        if self._chan.get_write_buffer_size() > _MAX_UNREAD:
            self.close(f"client left more than {_MAX_UNREAD} bytes unread")
            return
        self._chan.write(data)

    def _release_budget(self) -> None:
        self._budget.charge(self._charged, 0)
        self._charged = self._unparsed = 0
        if self.session is not None:
            self.session.framer.discard()

    def close(self, reason: str = "closed") -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.clear()
        self._release_budget()
        if self.session is not None:
            log.info("closing session %d: %s", self.session.session_id, reason)
            self.session.ended()
        if self._timer is not None:
            self._timer.cancel()
        conn = self._chan.get_extra_info("connection")
        self._chan.close()
        # One NETCONF session per SSH connection: end the connection with it.
        if conn is not None:
            conn.close()

    # -- request pipeline --------------------------------------------------------

    def _drain(self) -> None:
        queue = self._queue
        session = self.session
        write = self._chan.write
        while queue and not self._closed:
            if self._write_paused:
                return
            item = queue.popleft()
            cls = item.__class__
            if cls is bytes:
                write(item)
                continue
            if cls is CLOSE:
                self.close(item.reason)
                return
            if cls is Unparsed:
                self._busy = True
                asyncio.get_running_loop().create_task(self._parse_then_dispatch(item))
                return
            out = self._server.dispatch(session, item)
            if out.__class__ is bytes:
                write(out)
                if session.closing:
                    self._close_session()
                    return
                continue
            self._busy = True
            asyncio.get_running_loop().create_task(self._await_reply(out))
            return
        if self._read_paused and not self._write_paused and not self._closed:
            self._read_paused = False
            self._chan.resume_reading()

    async def _await_reply(self, pending) -> None:
        try:
            out = await pending
            if not self._closed:
                self._chan.write(out)
                if self.session.closing:
                    self._close_session()
        finally:
            self._busy = False
        if not self._closed:
            self._drain()

    async def _parse_then_dispatch(self, item: Unparsed) -> None:
        """A big message parsed in a worker thread (lxml releases the GIL while
        it parses), then handled in its place: later requests wait behind it."""
        try:
            parsed = await asyncio.to_thread(self.session.parse_document, item.msg)
        except Exception:
            log.exception("session %d: internal error; closing it", self.session.session_id)
            self.session.ending(EndReason.OTHER)
            self.close("internal error")
            return
        finally:
            self._busy = False
        self._unparsed -= len(item)
        if self._closed:
            return
        self._recharge()
        if self._closed:
            return
        try:
            self._queue.appendleft(self.session.finish_message(parsed))
        except Exception:
            log.exception("session %d: internal error; closing it", self.session.session_id)
            self.session.ending(EndReason.OTHER)
            self.close("internal error")
            return
        if not self._write_paused:
            self._drain()

    def _close_session(self) -> None:
        """After the <ok/> of close-session (RFC 6242 §3: the server closes the
        channel): reply first, then exit-status 0, then the channel; the
        connection closes when the channel is gone (connection_lost)."""
        session = self.session
        session.ending(EndReason.CLOSED)
        session.ended()
        self._queue.clear()
        self._closing = True
        self._closed = True  # nothing more is read or dispatched
        self._release_budget()
        if self._timer is not None:
            self._timer.cancel()
        log.info("closing session %d: close-session", session.session_id)
        asyncio.get_running_loop().create_task(self._linger_then_exit())

    async def _linger_then_exit(self) -> None:
        chan = self._chan
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CLOSE_LINGER
        # exit-status is sent at once, ahead of data still waiting for window
        # space: wait until the reply has left, so the client reads it first.
        while chan.get_write_buffer_size() and loop.time() < deadline:
            await asyncio.sleep(0.005)
        try:
            chan.exit(0)
        except OSError:
            pass
        while not self._chan_gone and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if not self._chan_gone and self._conn is not None:
            self._conn.close()  # the client never closed its side

    # -- timeouts ---------------------------------------------------------------

    def _arm_timer(self) -> None:
        opts = self._server.options
        idle = getattr(opts, "idle_timeout", 0) or 0
        hello = getattr(opts, "hello_timeout", 0) or 0
        delay = min(x for x in (idle, hello, 3600) if x > 0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._check_timeouts)

    def _check_timeouts(self) -> None:
        if self._closed:
            return
        opts = self._server.options
        now = time.monotonic()
        hello = getattr(opts, "hello_timeout", 0) or 0
        idle = getattr(opts, "idle_timeout", 0) or 0
        in_hello = self.session.state is SessionState.HELLO
        if hello and in_hello and now - self._last_activity >= hello:
            self.session.ending(EndReason.BAD_HELLO)
            self.close(f"no <hello> within {hello}s")
            return
        # A session with a notification subscription is busy listening, not idle.
        if (
            idle
            and self.session.subscription is None
            and not self._busy
            and now - self._last_activity >= idle
        ):
            self.session.ending(EndReason.TIMEOUT)
            self.close(f"idle for {idle}s")
            return
        next_check = min(
            x for x in (idle, hello if in_hello else 0, 3600) if x > 0
        )
        wait = max(0.05, next_check - (now - self._last_activity))
        self._timer = asyncio.get_running_loop().call_later(wait, self._check_timeouts)


def login_guard(opts) -> LoginGuard:
    """The password-guessing budget the options ask for (one for SSH and RESTCONF)."""
    return LoginGuard(
        step=getattr(opts, "login_delay", 0.5),
        cap=10 * getattr(opts, "login_delay", 0.5),
        max_failures=getattr(opts, "login_max_failures", 10),
        lockout=getattr(opts, "login_lockout", 300.0),
        max_wait=(getattr(opts, "login_timeout", 30) or 30) / 2,
    )


async def start(
    server: Server, host_key: Path, guard: LoginGuard | None = None
) -> asyncssh.SSHAcceptor:
    """Listen for SSH connections; returns the acceptor (close() it to stop)."""
    opts = server.options
    from agent.ssh.users import dummy_hash

    # Made once, in the background: listening does not wait for it (a start-up
    # is ~0.1 s of scrypt shorter), and a login that comes first makes its own.
    asyncio.get_running_loop().run_in_executor(None, dummy_hash)
    guard = guard if guard is not None else login_guard(opts)
    gate = PreAuthGate(getattr(opts, "max_startups", 0) or 0)
    budget = InputBudget(getattr(opts, "max_input_buffer", 0) or 0)
    return await asyncssh.create_server(
        lambda: _SSHServer(server, guard, gate, budget),
        opts.address,
        opts.port,
        server_host_keys=[str(host_key)],
        encoding=None,
        kex_algs=KEX_ALGS,
        encryption_algs=ENCRYPTION_ALGS,
        mac_algs=MAC_ALGS,
        signature_algs=SIGNATURE_ALGS,
        compression_algs=["none"],
        allow_pty=True,
        # Without this asyncssh wraps every session in its line editor, a
        # layer each NETCONF message would pass through for nothing.
        line_editor=False,
        agent_forwarding=False,
        x11_forwarding=False,
        rdns_lookup=False,
        login_timeout=getattr(opts, "login_timeout", 30) or 30,
        # Detects dead clients (cable pulled) so their locks do not outlive them.
        keepalive_interval=getattr(opts, "keepalive", 0) or 0,
        keepalive_count_max=3,
        reuse_address=True,
    )
