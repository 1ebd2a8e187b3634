"""Typed memif views (MemifConfig) of datastore trees, remembered per tree and
derived from an edit incrementally.

Datastore trees are never changed in place (an edit works on a copy that then
replaces the tree), so a tree's typed view stays valid as long as the tree
lives. A small edit of a 1,000-entry configuration re-reads the entries it
touched instead of all of them; anything else is read whole.
"""

from __future__ import annotations

import threading

from lxml import etree

from agent.datastore.edit import EditResult
from agent.memif.config import MemifConfig, Q
from agent.yangdata.params import U32_MAX, parse_uint

_ENTRY_TAGS = (Q + "socket", Q + "interface")


class TypedViews:
    """A few (tree, MemifConfig) pairs, newest first; trees compared by identity."""

    def __init__(self, size: int = 6) -> None:
        self._size = size
        self._items: list[tuple[etree._Element, MemifConfig]] = []
        # The request worker (agent.datastore.worker) remembers views too: two updates at
        # once must not drop one (a view lost costs a whole re-read).
        self._lock = threading.Lock()

    def known(self, tree: etree._Element) -> MemifConfig | None:
        for t, cfg in self._items:
            if t is tree:
                return cfg
        return None

    def get(self, tree: etree._Element) -> MemifConfig:
        """The typed view of `tree`, read now if unknown (raises RpcErrors)."""
        cfg = self.known(tree)
        if cfg is None:
            cfg = MemifConfig.from_config(tree)
            self.remember(tree, cfg)
        return cfg

    def remember(self, tree: etree._Element, cfg: MemifConfig) -> None:
        with self._lock:
            items = [(t, c) for t, c in self._items if t is not tree]
            items.insert(0, (tree, cfg))
            del items[self._size :]
            self._items = items


def after_edit(old: MemifConfig | None, work: etree._Element, result: EditResult) -> MemifConfig:
    """The typed view of `work`, the tree `result` came from editing a tree whose
    view was `old`. Raises RpcErrors for a malformed entry the edit wrote."""
    if old is None or result.structural:
        return MemifConfig.from_config(work)
    # Only entries in work's <memif> count: an edit also builds subtrees it then
    # drops (a replace that failed under continue-on-error) or detaches again.
    memif = work.find(Q + "memif")
    seen: set[int] = set()
    live = []
    for e in result.touched:
        if e.tag in _ENTRY_TAGS and id(e) not in seen and e.getparent() is memif:
            seen.add(id(e))
            live.append(e)
    removed = [e for parent, e in result.removed if parent is memif and e.tag in _ENTRY_TAGS]
    if not live and not removed:
        return old
    part = MemifConfig.from_entries(live)  # type errors of what the edit wrote
    new = MemifConfig(dict(old.sockets), dict(old.interfaces))
    for e in removed:
        key = _key_of(e)
        if key is not None:  # else it was written by this edit, never in `old`
            (new.sockets if e.tag == Q + "socket" else new.interfaces).pop(key, None)
    created_ids = {id(e) for e in result.created}
    for e, (kind, key) in zip(live, _keys(part, live), strict=True):
        table = new.sockets if kind == "socket" else new.interfaces
        if id(e) in created_ids and key in table:
            # The editor keys entries by text, the typed view by value ("01" is
            # 1): a duplicate only a whole read reports with its path.
            return MemifConfig.from_config(work)
    new.sockets.update(part.sockets)
    new.interfaces.update(part.interfaces)
    if len(new.sockets) + len(new.interfaces) != len(memif):
        # Two entries with one key by value, or a removal by a key written
        # differently: the whole read words the error (or is right anyway).
        return MemifConfig.from_config(work)
    return new


def _key_of(e: etree._Element) -> object | None:
    """A removed entry's typed key, or None if its key leaves do not parse."""
    if e.tag == Q + "socket":
        return _uint_leaf(e, "id")
    sid, iid = _uint_leaf(e, "socket-id"), _uint_leaf(e, "id")
    return None if sid is None or iid is None else (sid, iid)


def _uint_leaf(e: etree._Element, name: str) -> int | None:
    text = e.findtext(Q + name)
    return None if text is None else parse_uint(text, 0, U32_MAX)


def _keys(part: MemifConfig, view: list[etree._Element]) -> list[tuple[str, object]]:
    """Each entry of `view` as ("socket", id) or ("interface", (socket-id, id)), in order."""
    sockets = iter(part.sockets)
    interfaces = iter(part.interfaces)
    return [
        ("socket", next(sockets)) if e.tag == Q + "socket" else ("interface", next(interfaces))
        for e in view
    ]
