"""RFC 8040 §6 event streams: the NETCONF stream as text/event-stream, each
notification one SSE event, XML as NETCONF sends it or RFC 8040 §6.4 JSON
(ietf-restconf:notification, the event encoded by libyang).

Delivery never waits for a client: events queue per stream, and a client that
lets `MAX_QUEUED` pile up is cut off rather than made to cost memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import libyang
from aiohttp import web
from libyang import DataType
from lxml import etree

from agent.netconf.session import hardened_parser
from agent.restconf.core import Core
from agent.restconf.errors import bad_request, not_found
from agent.restconf.query import Query

log = logging.getLogger(__name__)

STREAM = "NETCONF"
ENCODINGS = ("xml", "json")
MAX_QUEUED = 1000
# A comment line this often keeps proxies and idle timers from closing the stream.
KEEPALIVE = 15.0
POLL = 1.0
NOTIF = "{urn:ietf:params:xml:ns:netconf:notification:1.0}"


class Streams:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.open = 0

    def to_json(self, message: bytes) -> bytes | None:
        """An RFC 8040 §6.4 JSON notification for a NETCONF <notification>."""
        try:
            root = etree.fromstring(message, hardened_parser())
        except etree.XMLSyntaxError:
            return None
        when = root.findtext(NOTIF + "eventTime") or ""
        event = next(
            (c for c in root if isinstance(c.tag, str) and c.tag != NOTIF + "eventTime"), None
        )
        if event is None:
            return None
        try:
            node = self.core.schema.parse_op_mem(
                "xml", etree.tostring(event).decode(), dtype=DataType.NOTIF_YANG
            )
            text = node.print_mem("json", pretty=False)
            node.free()
        except libyang.LibyangError as e:
            log.warning("notification %s not encodable as JSON: %s", event.tag, e)
            return None
        body = json.loads(text)
        doc = {"ietf-restconf:notification": {"eventTime": when, **body}}
        return json.dumps(doc).encode()

    async def serve(
        self, request: web.Request, stream: str, encoding: str, user: str, peer: str, q: Query
    ) -> web.StreamResponse:
        if stream != STREAM:
            raise not_found(f"no event stream {stream[:64]!r} (only {STREAM})")
        if encoding not in ENCODINGS:
            raise not_found(f"stream {STREAM} is served as xml or json, not {encoding[:20]!r}")
        if "start-time" in q.raw or "stop-time" in q.raw:
            raise bad_request("stream NETCONF has no replay: start-time and stop-time are refused")
        if "filter" in q.raw:
            raise bad_request("stream filters are not supported; every event is sent")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        def deliver(message: bytes) -> None:
            if not message:  # the stream's session was killed
                queue.put_nowait(None)
            elif queue.qsize() < MAX_QUEUED:
                queue.put_nowait(message)
            else:
                queue.put_nowait(None)

        resp = web.StreamResponse(
            status=200,
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
        )
        await resp.prepare(request)
        handle = self.core.subscribe(user, peer, deliver)
        self.open += 1
        log.info("RESTCONF event stream %s/%s for %s from %s", stream, encoding, user, peer)
        try:
            await resp.write(b": memif-agent NETCONF stream\n\n")
            idle = 0.0
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), POLL)
                except TimeoutError:
                    # A client that went away is noticed within POLL, not at the
                    # next write: its subscription is a session in the table.
                    if request.transport is None or request.transport.is_closing():
                        break
                    idle += POLL
                    if idle >= KEEPALIVE:
                        idle = 0.0
                        await resp.write(b": keepalive\n\n")
                    continue
                idle = 0.0
                if message is None:
                    break
                data = self.to_json(message) if encoding == "json" else message
                if data is None:
                    continue
                lines = data.decode("utf-8", "replace").splitlines() or [""]
                await resp.write("".join(f"data: {ln}\n" for ln in lines).encode() + b"\n")
        except ConnectionResetError:
            pass  # the client went away
        finally:
            self.core.unsubscribe(handle)
            self.open -= 1
        with contextlib.suppress(ConnectionResetError):
            await resp.write_eof()
        return resp
