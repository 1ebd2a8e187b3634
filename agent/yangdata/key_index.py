"""List entries by key value, for trees that are never changed in place.

Datastore trees are replaced on every change, never edited where they stand
(agent/datastore/store.py), so an index built for one stays right as long as that
tree lives. A filter that names every key of a list entry then finds it with
one dictionary access instead of a walk over all its siblings.
"""

from __future__ import annotations

from lxml import etree

from agent.yangdata.schema_index import SNodeInfo
from agent.yangdata.xmltree import entries_by_key


class KeyIndex:
    """The last few list parents asked about, each with its entries by key (few:
    each pins a whole datastore tree in memory)."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        # id(parent) -> (parent, {list tag: {key values: entry}}); holding the
        # parent keeps its id from being reused while it is cached.
        self._parents: dict[int, tuple[etree._Element, dict[str, dict]]] = {}

    def entries(
        self, parent: etree._Element, info: SNodeInfo
    ) -> dict[tuple[str, ...], etree._Element]:
        """Entries of list `info` under `parent`, by their key values (stripped text)."""
        slot = self._parents.get(id(parent))
        if slot is None or slot[0] is not parent:
            if len(self._parents) >= self._size:
                self._parents.clear()
            slot = (parent, {})
            self._parents[id(parent)] = slot
        by_key = slot[1].get(info.tag)
        if by_key is None:
            by_key = slot[1][info.tag] = entries_by_key(parent, info)
        return by_key
