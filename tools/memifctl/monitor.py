"""`monitor`: link-state-change notifications as lines (or JSON lines)."""

from __future__ import annotations

import json
import sys
from typing import Any

from lxml import etree
from memifctl import yang_json
from ncclient.transport.errors import TransportError

NS = "urn:memif-agent:yang:memif-agent"


def run(manager: Any, as_json: bool, count: int | None = None) -> None:
    manager.create_subscription(filter=("subtree", f'<link-state-change xmlns="{NS}"/>'))
    seen = 0
    while count is None or seen < count:
        n = manager.take_notification(block=True, timeout=1.0)
        if n is None:
            if not manager.connected:
                # ncclient hands out no more notifications and raises nothing.
                raise TransportError("the agent closed the session")
            continue
        ev = etree.fromstring(n.notification_xml.encode())
        body = ev.find(f"{{{NS}}}link-state-change")
        if body is None:
            continue
        fields = {etree.QName(c).localname: c.text or "" for c in body}
        when = ev.findtext("{urn:ietf:params:xml:ns:netconf:notification:1.0}eventTime") or ""
        if as_json:
            print(json.dumps(yang_json.notification(n.notification_xml)), flush=True)
        else:
            reason = f" ({fields['reason']})" if fields.get("reason") else ""
            print(
                f"{when} {fields.get('name')} link {fields.get('link-status')}{reason}", flush=True
            )
        seen += 1
    sys.stdout.flush()
