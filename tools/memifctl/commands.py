"""Runs parsed commands against the agent over NETCONF (ncclient).

Configuration commands are collected in the session, not sent at once: the
candidate datastore is shared by every client, and edits left in it by a command
that failed would make every later commit fail or carry them. `commit` is one
transaction: lock the candidate, apply this session's edits, commit, unlock;
when the agent refuses any step, discard-changes and unlock, so the candidate
is left as it was found.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lxml import etree
from memifctl import grammar, show, yang_json
from memifctl.grammar import CONFIG, EXEC, MEMIF, Command
from ncclient.operations.rpc import RPCError

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NCM = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
NS = show.NS


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class LockHeld(Exception):
    """The candidate is locked by another session (or holds its uncommitted changes)."""


class Session:
    """A NETCONF session, the shell's mode and this session's uncommitted edits."""

    def __init__(self, manager: Any, as_json: bool = False, hostname: str = "memifctl") -> None:
        self.m = manager
        self.as_json = as_json
        self.hostname = hostname
        self.mode = EXEC
        self.memif: tuple[str, str] | None = None  # (socket-id, id) in config-memif mode
        self.pending: list[str] = []  # <memif> bodies for edit-config, in order

    @property
    def prompt(self) -> str:
        if self.mode == MEMIF and self.memif:
            return f"{self.hostname}(config-memif {self.memif[0]}/{self.memif[1]})# "
        if self.mode == CONFIG:
            return f"{self.hostname}(config)# "
        return f"{self.hostname}# "

    def _edit(self, body: str) -> None:
        self.pending.append(body)

    def _itf(self, inner: str, sid: str | None = None, iid: str | None = None) -> str:
        sid, iid = (sid, iid) if sid is not None else self.memif  # type: ignore[misc]
        return f"<interface><socket-id>{sid}</socket-id><id>{iid}</id>{inner}</interface>"

    def run(self, cmd: Command) -> str | None:
        """Execute; returns text to print (or None). RPCError and LockHeld propagate."""
        a = cmd.args
        if cmd.edits and self.mode == EXEC:
            self.mode = CONFIG  # a script may leave out `configure`
        if cmd.action == "help":
            return grammar.help_lines("", self.mode)
        elif cmd.action == "configure":
            self.mode = CONFIG
        elif cmd.action == "end":
            self.mode, self.memif = EXEC, None
        elif cmd.action == "exit":
            # At exec level the caller ends memifctl; here one level up.
            self.mode, self.memif = (CONFIG if self.mode == MEMIF else EXEC), None
        elif cmd.action == "set-socket":
            self._edit(
                f"<socket><id>{a['socket-id']}</id>"
                f"<filename>{_xml_escape(a['filename'])}</filename></socket>"
            )
        elif cmd.action == "delete-socket":
            self._edit(f'<socket nc:operation="delete"><id>{a["socket-id"]}</id></socket>')
        elif cmd.action == "enter-memif":
            self._edit(self._itf("", a["socket-id"], a["id"]))
            self.mode, self.memif = MEMIF, (a["socket-id"], a["id"])
        elif cmd.action == "delete-interface":
            body = self._itf("", a["socket-id"], a["id"]).replace(
                "<interface>", '<interface nc:operation="delete">', 1
            )
            self._edit(body)
        elif cmd.action == "set-leaf":
            self._edit(self._itf("".join(f"<{k}>{_xml_escape(v)}</{k}>" for k, v in a.items())))
        elif cmd.action == "remove-leaf":
            self._edit(self._itf(f'<{a["leaf"]} nc:operation="remove"/>'))
        elif cmd.action == "set-role":
            leaves = f"<role>{a['role']}</role>"
            for q in ("rx-queues", "tx-queues"):
                if a["role"] == "server":
                    leaves += f'<{q} nc:operation="remove"/>'
                elif q in a:
                    leaves += f"<{q}>{a[q]}</{q}>"
            self._edit(self._itf(leaves))
        elif cmd.action == "commit":
            self.commit()
        elif cmd.action == "discard":
            self.pending.clear()
        elif cmd.action == "show-config":
            source = a["source"]
            filt = ("subtree", f'<memif xmlns="{NS}"/>')
            if source == "candidate" and self.pending:
                # The candidate as this session's commit would make it, shown and
                # then discarded inside the same lock.
                reply = self.transaction(
                    lambda: self.m.get_config(source="candidate", filter=filt), preview=True
                )
            else:
                reply = self.m.get_config(source=source, filter=filt)
            if self.as_json:
                return yang_json.data(reply.data)
            return etree.tostring(reply.data, pretty_print=True).decode().rstrip()
        elif cmd.action == "show-memif":
            reply = self.m.get(filter=("subtree", f'<memif xmlns="{NS}"/>'))
            if self.as_json:
                return yang_json.data(reply.data)
            m = show.model(reply.data)
            view = a["view"]
            return {"brief": show.brief, "detail": show.detail, "counters": show.counters}[view](m)
        else:
            raise ValueError(f"not a session command: {cmd.action}")
        return None

    def commit(self) -> None:
        """Commit this session's edits as one transaction; kept here if refused."""
        self.transaction(self.m.commit)
        self.pending.clear()

    def transaction(self, finish: Callable[[], Any], preview: bool = False) -> Any:
        """Lock the candidate, apply the pending edits, run `finish`, unlock.

        `preview`: discard the changes after `finish` too (to look at them); a
        refusal always discards them, so a failed commit leaves the candidate as found.
        """
        try:
            self.m.lock(target="candidate")
        except RPCError as e:
            if e.tag == "lock-denied":
                raise LockHeld(self._lock_holder(e)) from None
            raise
        try:
            for body in self.pending:
                self.m.edit_config(
                    target="candidate",
                    config=(
                        f'<config xmlns="{NC}"><memif xmlns="{NS}" xmlns:nc="{NC}">'
                        f"{body}</memif></config>"
                    ),
                )
            result = finish()
            if preview:
                self.m.discard_changes()
            return result
        except RPCError:
            self._quietly(self.m.discard_changes)
            raise
        finally:
            self._quietly(lambda: self.m.unlock(target="candidate"))

    @staticmethod
    def _quietly(call: Callable[[], Any]) -> None:
        # Clean-up after a refusal: its own failure (e.g. the session is gone, which
        # also releases the lock) must not hide the error that is being reported.
        try:
            call()
        except Exception:
            pass

    def _lock_holder(self, err: RPCError) -> str:
        """Who holds the candidate, from error-info and ietf-netconf-monitoring."""
        sid = None
        if err.info:
            try:
                info = etree.fromstring(err.info.encode())
                sid = info.findtext(f"{{{NC}}}session-id")
            except etree.XMLSyntaxError:
                sid = None
        if not sid or sid == "0":
            return f"error: {err.message.strip() if err.message else 'the candidate is locked'}"
        who = ""
        try:
            filt = (
                f'<netconf-state xmlns="{NCM}"><sessions><session>'
                f"<session-id>{int(sid)}</session-id></session></sessions></netconf-state>"
            )
            data = self.m.get(filter=("subtree", filt)).data
            s = data.find(f".//{{{NCM}}}session")
            if s is not None:
                user = s.findtext(f"{{{NCM}}}username") or "?"
                host = s.findtext(f"{{{NCM}}}source-host")
                since = s.findtext(f"{{{NCM}}}login-time")
                who = f", user {user}" + (f" from {host}" if host else "")
                who += f", logged in {since}" if since else ""
        except (RPCError, ValueError):
            pass  # NACM may hide the sessions list; the session id is still worth saying
        if err.message and "uncommitted changes" in err.message:
            # Not a lock: another session's edits, which a commit would sweep along.
            return (
                f"error: the candidate holds uncommitted changes of another session "
                f"(session {sid}{who}); nothing was changed"
            )
        return f"error: the candidate is locked by session {sid}{who}; nothing was changed"
