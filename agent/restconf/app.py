"""The RESTCONF HTTP server (aiohttp, in the agent's event loop): routes,
authentication, negotiation and error replies around agent.restconf.resources.

Resources: /.well-known/host-meta, /restconf (root), /restconf/data,
/restconf/ds/ietf-datastores:<name> (RFC 8527), /restconf/operations,
/restconf/yang-library-version, /restconf/streams/NETCONF/<xml|json>.
Every error, including aiohttp's own (404, 405, 413), is an
ietf-restconf:errors document; nothing answers with a stack trace or HTML.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from agent.errors import RpcError, RpcErrors
from agent.restconf import encoding, monitoring, operations, paths, query, streams
from agent.restconf.auth import Authenticator, parse_basic, unauthorized
from agent.restconf.core import Core
from agent.restconf.errors import RestconfError, as_errors, not_found, render, status_of
from agent.restconf.gate import PreAuthGate
from agent.restconf.preconditions import http_date
from agent.restconf.resources import Reply, Resources
from agent.restconf.tls import certificate_user

log = logging.getLogger(__name__)

ROOT = "/restconf"
YANG_LIBRARY_VERSION = "2019-01-04"
DATASTORES = ("running", "candidate", "startup", "operational")
_HOST_META = (
    b"<?xml version='1.0' encoding='UTF-8'?>\n"
    b"<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>"
    b"<Link rel='restconf' href='/restconf'/></XRD>\n"
)


@dataclass
class Settings:
    max_body: int = 32 * 1024 * 1024
    max_pending_logins: int = 64
    login_cache_ttl: float = 60.0
    client_certificates: bool = False


class Restconf:
    def __init__(self, core: Core, settings: Settings, gate: PreAuthGate | None = None) -> None:
        from libyang.util import c2str

        self.core = core
        self.settings = settings
        self.gate = gate
        modules = {m.name(): c2str(m.cdata.ns) for m in core.schema}
        self.schema = paths.Schema(core.index, modules)
        self.resources = Resources(core, self.schema)
        self.operations = operations.Operations(core, self.schema)
        self.streams = streams.Streams(core)
        self.auth = Authenticator(
            core.authenticate,
            core.password_stamp,
            settings.max_pending_logins,
            settings.login_cache_ttl,
        )

    # -- the application ------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(
            middlewares=[self._middleware], client_max_size=self.settings.max_body
        )
        r = app.router
        r.add_get("/.well-known/host-meta", self.host_meta, allow_head=True)
        r.add_route("*", ROOT, self.root)
        r.add_route("*", ROOT + "/", self.root)
        r.add_route("*", ROOT + "/yang-library-version", self.yang_library_version)
        r.add_route("*", ROOT + "/data{tail:(/.*)?}", self.data)
        r.add_route("*", ROOT + "/ds/{ds}{tail:(/.*)?}", self.datastore)
        r.add_route("*", ROOT + "/operations{tail:(/.*)?}", self.operation)
        r.add_route("*", ROOT + "/streams/{stream}/{encoding}", self.stream)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        try:
            if request.path != "/.well-known/host-meta":
                request["user"] = await self._user(request)
                if self.gate is not None:
                    self.gate.authenticated(request.protocol)
            return await handler(request)
        except (RpcError, RpcErrors) as e:
            return self._error(request, as_errors(e))
        except web.HTTPException as e:
            return self._error(request, [_http_error(e)])
        except Exception:
            log.exception("RESTCONF %s %s failed", request.method, request.path[:200])
            return self._error(
                request, [RpcError("operation-failed", "internal error (logged by the agent)")]
            )

    async def _user(self, request: web.Request) -> str:
        peer = _peer(request)
        if self.settings.client_certificates:
            ssl_obj = request.transport.get_extra_info("ssl_object") if request.transport else None
            cert = ssl_obj.getpeercert() if ssl_obj is not None else None
            user = certificate_user(cert)
            if user is not None:
                if not self.core.user_exists(user):
                    raise unauthorized(f"certificate user {user[:64]!r} is not a user here")
                return user
        creds = parse_basic(request.headers.get("Authorization"))
        if creds is None:
            raise unauthorized()
        return await self.auth.password(creds[0], creds[1], peer)

    def _error(self, request: web.Request, errors: list[RpcError]) -> web.Response:
        try:
            fmt = encoding.accept(request.headers.get("Accept"), _default_format(request))
        except RestconfError:
            fmt = "xml"
        status = status_of(errors)
        headers = {"Cache-Control": "no-cache"}
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="memif-agent", charset="UTF-8"'
        body = render(errors, fmt == "json") if request.method != "HEAD" else b""
        return web.Response(
            status=status, body=body, content_type=encoding.content_type(fmt), headers=headers
        )

    # -- small resources -------------------------------------------------------------------

    async def host_meta(self, request: web.Request) -> web.Response:
        return web.Response(body=_HOST_META, content_type="application/xrd+xml")

    async def root(self, request: web.Request) -> web.Response:
        _methods(request, ("GET", "HEAD"))
        fmt = self._accept(request)
        if fmt == "json":
            body = (
                '{"ietf-restconf:restconf":{"data":{},"operations":{},'
                f'"yang-library-version":"{YANG_LIBRARY_VERSION}"}}}}'
            ).encode()
        else:
            body = (
                '<restconf xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf"><data/>'
                f"<operations/><yang-library-version>{YANG_LIBRARY_VERSION}"
                "</yang-library-version></restconf>"
            ).encode()
        return _respond(request, Reply(200, body, encoding.content_type(fmt)))

    async def yang_library_version(self, request: web.Request) -> web.Response:
        _methods(request, ("GET", "HEAD"))
        fmt = self._accept(request)
        if fmt == "json":
            body = f'{{"ietf-restconf:yang-library-version":"{YANG_LIBRARY_VERSION}"}}'.encode()
        else:
            body = (
                '<yang-library-version xmlns="urn:ietf:params:xml:ns:yang:ietf-restconf">'
                f"{YANG_LIBRARY_VERSION}</yang-library-version>"
            ).encode()
        return _respond(request, Reply(200, body, encoding.content_type(fmt)))

    # -- data ------------------------------------------------------------------------------

    def _accept(self, request: web.Request) -> str:
        return encoding.accept(request.headers.get("Accept"), _default_format(request))

    async def data(self, request: web.Request) -> web.StreamResponse:
        tail = _raw_tail(request, ROOT + "/data")
        return await self._data(request, "operational", tail, writable=True)

    async def datastore(self, request: web.Request) -> web.StreamResponse:
        raw = request.rel_url.raw_path
        rest = raw[len(ROOT + "/ds/") :]
        name, _, tail = rest.partition("/")
        module, _, ds = name.partition(":")
        if module != "ietf-datastores" or ds not in DATASTORES:
            raise not_found(
                f"no datastore {name[:64]!r}: the agent has "
                + ", ".join(f"ietf-datastores:{d}" for d in DATASTORES)
            )
        return await self._data(request, ds, "/" + tail if tail else "", writable=ds == "running")

    async def _data(
        self, request: web.Request, datastore: str, tail: str, writable: bool
    ) -> web.StreamResponse:
        method = request.method
        allowed = ("GET", "HEAD", "OPTIONS") + (
            ("PUT", "POST", "PATCH", "DELETE") if writable else ()
        )
        if method not in allowed:
            raise RestconfError(
                405,
                "operation-not-supported",
                f"{method} is not allowed here"
                + ("" if writable else f": {datastore} is read-only over RESTCONF"),
                type="protocol",
            )
        if method == "OPTIONS":
            return web.Response(
                status=200,
                headers={
                    "Allow": ", ".join(allowed),
                    "Accept-Patch": ", ".join(
                        (encoding.XML, encoding.JSON, encoding.PATCH_XML, encoding.PATCH_JSON)
                    ),
                },
            )
        if tail.startswith("/ietf-restconf-monitoring:"):
            _methods(request, ("GET", "HEAD"))
            q = query.parse(request.rel_url.raw_query_string, method)
            base = f"{request.scheme}://{request.host}{ROOT}"
            reply = monitoring.get(tail, base, q, self._accept(request))
            return _respond(request, reply)
        steps = self.schema.parse(tail)
        q = query.parse(request.rel_url.raw_query_string, method)
        user = request["user"]
        peer = _peer(request)
        res = self.resources
        if method in ("GET", "HEAD"):
            reply = await res.get(user, datastore, steps, q, self._accept(request), request.headers)
            return _respond(request, reply)
        if method == "DELETE":
            return _respond(request, await res.delete(user, peer, steps, request.headers))
        body = await request.read()
        ctype = encoding.media_type(request.headers.get("Content-Type"))
        if method == "PATCH" and ctype in (encoding.PATCH_XML, encoding.PATCH_JSON):
            from agent.restconf import patch

            reply = await patch.run(
                res, user, peer, steps, tail, body, ctype, self._accept(request), request.headers
            )
            return _respond(request, reply)
        fmt = encoding.content_format(ctype)
        if method == "PUT":
            reply = await res.put(user, peer, steps, body, fmt, request.headers)
        elif method == "POST":
            reply = await res.post(user, peer, steps, body, fmt, request.headers)
        else:
            reply = await res.patch(user, peer, steps, body, fmt, request.headers)
        if reply.location is not None:
            reply.location = f"{request.scheme}://{request.host}{ROOT}/data/{reply.location}"
        return _respond(request, reply)

    # -- operations and streams -------------------------------------------------------------

    async def operation(self, request: web.Request) -> web.StreamResponse:
        tail = _raw_tail(request, ROOT + "/operations")
        fmt = self._accept(request)
        user = request["user"]
        if not tail.strip("/"):
            _methods(request, ("GET", "HEAD"))
            return _respond(request, self.operations.listing(fmt))
        if request.method != "POST":
            _methods(request, ("POST",))
        body = await request.read()
        ctype = request.headers.get("Content-Type")
        in_fmt = encoding.content_format(ctype) if body.strip() else fmt
        reply = await self.operations.invoke(user, _peer(request), tail, body, in_fmt, fmt)
        return _respond(request, reply)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        _methods(request, ("GET",))
        q = query.parse(request.rel_url.raw_query_string, "GET", allowed=set(query.STREAM_PARAMS))
        return await self.streams.serve(
            request,
            request.match_info["stream"],
            request.match_info["encoding"],
            request["user"],
            _peer(request),
            q,
        )


# -- helpers ----------------------------------------------------------------------------------


def _methods(request: web.Request, allowed: tuple[str, ...]) -> None:
    if request.method not in allowed:
        raise RestconfError(
            405,
            "operation-not-supported",
            f"{request.method} is not allowed here (only {', '.join(allowed)})",
            type="protocol",
        )


def _raw_tail(request: web.Request, prefix: str) -> str:
    """The still percent-encoded path after `prefix` ("" or "/...")."""
    raw = request.rel_url.raw_path
    tail = raw[len(prefix) :]
    if tail and not tail.startswith("/"):
        raise not_found(f"no resource {raw[:100]!r}")
    return tail


def _peer(request: web.Request) -> str:
    return request.remote or ""


def _default_format(request: web.Request) -> str:
    ctype = encoding.media_type(request.headers.get("Content-Type"))
    return "json" if ctype.endswith("json") else "xml"


def _respond(request: web.Request, reply: Reply) -> web.Response:
    headers = {"Cache-Control": "no-cache"}
    if reply.etag is not None:
        headers["ETag"] = reply.etag
    if reply.last_modified is not None:
        headers["Last-Modified"] = http_date(reply.last_modified)
    if reply.location is not None:
        headers["Location"] = reply.location
    body = reply.body if request.method != "HEAD" else b""
    resp = web.Response(status=reply.status, body=body or None, headers=headers)
    if reply.content_type is not None:
        resp.content_type = reply.content_type
        if request.method == "HEAD":
            resp.headers["Content-Length"] = str(len(reply.body))
    return resp


def _http_error(e: web.HTTPException) -> RestconfError:
    status = e.status
    if status == 404:
        return RestconfError(404, "invalid-value", "no such resource", type="protocol")
    if status == 405:
        return RestconfError(405, "operation-not-supported", "method not allowed", type="protocol")
    if status == 413:
        return RestconfError(413, "too-big", "the request body is too big", type="transport")
    tag = "malformed-message" if status == 400 else "operation-failed"
    return RestconfError(status, tag, e.reason or "request refused", type="transport")


async def start(core: Core, options: Any, state_dir: Path) -> Listener:
    """Start the RESTCONF listener the options ask for; returns the runner
    (await runner.cleanup() to stop). Logs "RESTCONF on <url>" once listening."""
    from agent.restconf import tls

    address = getattr(options, "restconf_address", None) or options.address
    port = int(options.restconf_port)
    plain = bool(getattr(options, "restconf_plain_http", False))
    client_ca = getattr(options, "restconf_client_ca", None)
    ssl_ctx = None
    if plain:
        if not _loopback(address):
            raise OSError(f"plain HTTP RESTCONF is only served on loopback, not {address}")
    else:
        cert = getattr(options, "restconf_cert", None)
        key = getattr(options, "restconf_key", None)
        if (cert is None) != (key is None):
            raise OSError("--restconf-cert and --restconf-key go together")
        if cert is None:
            cert, key = tls.ensure_self_signed(state_dir)
        ssl_ctx = tls.server_context(Path(cert), Path(key), Path(client_ca) if client_ca else None)
    settings = Settings(
        max_body=getattr(options, "max_message_size", 0) or 32 * 1024 * 1024,
        max_pending_logins=getattr(options, "max_startups", 64) or 0,
        client_certificates=client_ca is not None and not plain,
    )
    timeout = float(getattr(options, "login_timeout", 30) or 30)
    gate = PreAuthGate(getattr(options, "max_startups", 64) or 0, timeout)
    app = Restconf(core, settings, gate).application()
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    server = runner.server
    assert server is not None
    # aiohttp's Server tells of every lost connection: the gate forgets it too.
    lost = server.connection_lost

    def connection_lost(handler, exc=None) -> None:
        gate.closed(handler)
        lost(handler, exc)

    server.connection_lost = connection_lost  # type: ignore[method-assign]
    # The listening socket is made here rather than by aiohttp's TCPSite, so that
    # every accepted connection passes the gate and the TLS handshake has a deadline.
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: gate.protocol(server),
        address,
        port,
        ssl=ssl_ctx,
        ssl_handshake_timeout=timeout if ssl_ctx is not None else None,
        reuse_address=True,
        backlog=128,
    )
    scheme = "http" if plain else "https"
    for sock in listener.sockets:
        host, bound = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        log.log(
            max(logging.INFO, log.getEffectiveLevel()),
            "RESTCONF on %s://%s:%d",
            scheme,
            shown,
            bound,
        )
    return Listener(listener, runner, gate)


class Listener:
    """The running RESTCONF server; `await cleanup()` stops it."""

    def __init__(self, listener: asyncio.Server, runner: web.AppRunner, gate: PreAuthGate) -> None:
        self.listener, self.runner, self.gate = listener, runner, gate

    async def cleanup(self) -> None:
        self.listener.close()
        self.gate.close()
        await self.runner.cleanup()
        await self.listener.wait_closed()


def _loopback(address: str) -> bool:
    import ipaddress

    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
