"""RFC 6470 netconf-config-change and netconf-confirmed-commit events (feature
module): what changed in running or startup, by whom, and each step of a
confirmed commit.

The change list compares both trees, only the memif entries the edits touched
when the typed views tell which (touched_entries), so it is worked out only when
some session is subscribed, and after the RPC that made the change has been
answered: the trees are never changed in place, so they can be compared later.
A big one (a commit of thousands of entries) is worked out in the request
worker (agent/datastore/worker.py), off the event loop. These events leave in the order
they happened; other events (session start and end, link changes) do not wait
for a change list being worked out."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from lxml import etree

from agent.datastore.worker import Worker
from agent.memif.config import MemifConfig
from agent.memif.typed_view import TypedViews
from agent.rpc.host import Host
from agent.rpc.notifications import NCN_NS, Notifications, session_parms
from agent.yangdata.schema import MEMIF_NS
from agent.yangdata.schema_index import index_for
from agent.yangdata.tree_diff import Narrow, changes

log = logging.getLogger(__name__)

_Q = f"{{{NCN_NS}}}"
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_PREFIX = re.compile(r"([A-Za-z_][\w.-]*):")
MEMIF = f"{{{MEMIF_NS}}}memif"
_OPERATION = {"create": "create", "delete": "delete", "update": "replace"}


class ConfigEvents:
    def __init__(
        self,
        server: Host,
        notifications: Notifications,
        typed: TypedViews,
        worker: Worker | None = None,
    ) -> None:
        self.server = server
        self.notifications = notifications
        self.typed = typed  # the datastores' typed views
        # Big change lists are worked out there (agent.datastore.worker), in order.
        self.worker = worker
        self._tail: asyncio.Future | None = None
        self.index = index_for(server.schema)
        from libyang.util import c2str

        self.ns_of = {m.name(): c2str(m.cdata.ns) for m in server.schema}
        self.modules = {ns: name for name, ns in self.ns_of.items()}
        # The confirming session may be gone when its commit is cancelled for it.
        self._confirmer: tuple[int, str, str] | None = None

    def changed(
        self, datastore: str, old: etree._Element, new: etree._Element, by: int | None
    ) -> None:
        if not self.notifications.has_subscribers(_Q + "netconf-config-change"):
            return
        who = None if by is None else (by, *self._identity(by))
        typed = self.typed  # views now: the cache keeps only a few
        views = (typed.known(old), typed.known(new))
        worker = self.worker if self.worker is not None and self.worker.big(old, new) else None
        self._emit(worker, self._change_event, datastore, old, new, who, views)

    def _emit(self, worker: Worker | None, make: Callable[..., Any], *args: Any) -> None:
        """Sends the event make(*args) builds (None: nothing), after the events
        before it. `worker`: make runs there (a big change list), and the events
        after it wait."""
        prev = self._tail
        if worker is None and (prev is None or prev.done()):
            self._tail = None
            _later(self._notify, make, *args)
            return

        async def in_turn() -> None:
            if prev is not None:
                await asyncio.wait([prev])
            try:
                if worker is None:
                    self._notify(make, *args)
                else:
                    ev = await worker.run(make, *args)
                    self._notify(lambda: ev)
            except Exception:
                log.exception("netconf-config-change could not be built")

        self._tail = asyncio.ensure_future(in_turn())

    def _notify(self, make: Callable[..., Any], *args: Any) -> None:
        ev = make(*args)
        if ev is not None:
            self.server.notify(ev)

    def _change_event(
        self,
        datastore: str,
        old: etree._Element,
        new: etree._Element,
        who: tuple[int, str, str] | None,
        views: tuple[MemifConfig | None, MemifConfig | None],
    ) -> etree._Element | None:
        """The netconf-config-change of old -> new (None if nothing changed);
        reads nothing that changes: it may run in the worker."""
        narrow = touched_entries(old, new, *views)
        edits = [
            (op, xpath, module)
            for op, module, _, _, xpath in changes(
                old, new, self.index, self.modules, inside_created=False, narrow=narrow
            )
        ]
        if not edits:
            return None
        ev = etree.Element(_Q + "netconf-config-change", nsmap={None: NCN_NS})
        changed_by = etree.SubElement(ev, _Q + "changed-by")
        if who is None:
            etree.SubElement(changed_by, _Q + "server")
        else:
            session_parms(changed_by, *who)
        etree.SubElement(ev, _Q + "datastore").text = datastore
        for op, xpath, _ in edits:
            edit = etree.SubElement(ev, _Q + "edit")
            # Prefixes outside quoted key values ('/tmp/a:b' is a value, not a step).
            used = set(_PREFIX.findall(_QUOTED.sub("", xpath)))
            target = etree.SubElement(
                edit, _Q + "target", nsmap={m: self.ns_of[m] for m in sorted(used) if m}
            )
            target.text = xpath
            etree.SubElement(edit, _Q + "operation").text = _OPERATION[op]
        return ev

    def confirm(self, event: str, session_id: int | None, timeout: int | None) -> None:
        if event in ("start", "extend") and session_id is not None:
            self._confirmer = (session_id, *self._identity(session_id))
        ev = etree.Element(_Q + "netconf-confirmed-commit", nsmap={None: NCN_NS})
        if event != "timeout" and session_id is not None:
            session_parms(ev, session_id, *self._identity(session_id))
        etree.SubElement(ev, _Q + "confirm-event").text = event
        if timeout is not None:
            etree.SubElement(ev, _Q + "timeout").text = str(timeout)
        if event in ("complete", "cancel", "timeout"):
            self._confirmer = None
        self._emit(None, lambda: ev)

    def _identity(self, session_id: int) -> tuple[str, str]:
        session = self.server.sessions.get(session_id)
        if session is not None:
            return session.username, session.source_host
        if self._confirmer is not None and self._confirmer[0] == session_id:
            return self._confirmer[1], self._confirmer[2]
        return "unknown", ""


_SOCKET = etree.XPath("m:socket[number(m:id)=$id]", namespaces={"m": MEMIF_NS})
_INTERFACE = etree.XPath(
    "m:interface[number(m:socket-id)=$sid and number(m:id)=$iid]", namespaces={"m": MEMIF_NS}
)


def touched_entries(
    old: etree._Element,
    new: etree._Element,
    a: MemifConfig | None,
    b: MemifConfig | None,
    most: int = 16,
) -> Narrow | None:
    """The memif entries that may differ between `old` and `new`, from their typed
    views `a` and `b`: an edit re-reads the entries it touched and keeps the other
    entries' typed objects (agent/memif/typed_view.py), so an entry whose object is one
    and the same in both views was copied unchanged. None (compare everything) when
    a view is unknown, memif is missing on one side, or more than `most` differ."""
    if a is None or b is None:
        return None
    sockets = [
        k for k in a.sockets.keys() | b.sockets.keys() if a.sockets.get(k) is not b.sockets.get(k)
    ]
    itfs = [
        k
        for k in a.interfaces.keys() | b.interfaces.keys()
        if a.interfaces.get(k) is not b.interfaces.get(k)
    ]
    if len(sockets) + len(itfs) > most:
        return None
    old_memif, new_memif = old.find(MEMIF), new.find(MEMIF)
    if old_memif is None or new_memif is None:
        return None

    def find(memif: etree._Element) -> list[etree._Element]:
        found = [e for k in sorted(sockets) for e in _SOCKET(memif, id=k)]
        found += [e for s, i in sorted(itfs) for e in _INTERFACE(memif, sid=s, iid=i)]
        return found

    return {MEMIF: (find(old_memif), find(new_memif))}


def _later(fn: Callable[..., None], *args: Any) -> None:
    try:
        asyncio.get_running_loop().call_soon(fn, *args)
    except RuntimeError:  # no loop (tests driving Datastores directly)
        fn(*args)


def register(
    server: Host,
    notifications: Notifications,
    typed: TypedViews,
    worker: Worker | None = None,
) -> ConfigEvents:
    """The events the datastores are built with (agent.app)."""
    return ConfigEvents(server, notifications, typed, worker)
