"""Runs parsed commands against the agent over NETCONF (ncclient)."""

from __future__ import annotations

import json
from typing import Any

from lxml import etree

from tools.memifctl import show
from tools.memifctl.grammar import Command

NC = "urn:ietf:params:xml:ns:netconf:base:1.0"
NS = show.NS


def _xml_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Session:
    """A NETCONF session plus the config-memif context of the shell."""

    def __init__(self, manager: Any, as_json: bool = False) -> None:
        self.m = manager
        self.as_json = as_json
        self.memif: tuple[str, str] | None = None  # (socket-id, id) in config-memif mode

    @property
    def prompt(self) -> str:
        if self.memif:
            return f"memifctl(config-memif {self.memif[0]}/{self.memif[1]})# "
        return "memifctl# "

    def _edit(self, body: str) -> None:
        self.m.edit_config(
            target="candidate",
            config=(
                f'<config xmlns="{NC}"><memif xmlns="{NS}" xmlns:nc="{NC}">{body}</memif></config>'
            ),
        )

    def _itf(self, inner: str, sid: str | None = None, iid: str | None = None) -> str:
        sid, iid = (sid, iid) if sid is not None else self.memif  # type: ignore[misc]
        return f"<interface><socket-id>{sid}</socket-id><id>{iid}</id>{inner}</interface>"

    def run(self, cmd: Command) -> str | None:
        """Execute; returns text to print (or None). ncclient errors propagate."""
        a = cmd.args
        if cmd.action == "set-socket":
            self._edit(
                f"<socket><id>{a['socket-id']}</id>"
                f"<filename>{_xml_escape(a['filename'])}</filename></socket>"
            )
        elif cmd.action == "delete-socket":
            self._edit(f'<socket nc:operation="delete"><id>{a["socket-id"]}</id></socket>')
        elif cmd.action == "enter-memif":
            self._edit(self._itf("", a["socket-id"], a["id"]))
            self.memif = (a["socket-id"], a["id"])
        elif cmd.action == "delete-interface":
            body = self._itf("", a["socket-id"], a["id"]).replace(
                "<interface>", '<interface nc:operation="delete">', 1
            )
            self._edit(body)
        elif cmd.action == "exit-memif":
            self.memif = None
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
            self.m.commit()
        elif cmd.action == "discard":
            self.m.discard_changes()
        elif cmd.action == "show-config":
            reply = self.m.get_config(
                source=cmd.args["source"], filter=("subtree", f'<memif xmlns="{NS}"/>')
            )
            if self.as_json:
                return json.dumps(show.model(reply.data), indent=2)
            return etree.tostring(reply.data, pretty_print=True).decode().rstrip()
        elif cmd.action == "show-memif":
            m = show.model(self.m.get(filter=("subtree", f'<memif xmlns="{NS}"/>')).data)
            if self.as_json:
                return json.dumps(m, indent=2)
            view = cmd.args["view"]
            return {"brief": show.brief, "detail": show.detail, "counters": show.counters}[view](m)
        else:
            raise ValueError(f"not a session command: {cmd.action}")
        return None
