"""RFC 6022 ietf-netconf-monitoring (state + get-schema) and RFC 8525 YANG library state."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from lxml import etree

from agent.errors import RpcError
from agent.rpc.context import RpcContext
from agent.rpc.host import Host
from agent.yangdata.params import rpc_path
from agent.yangdata.schema import module_ns

NCM_NS = "urn:ietf:params:xml:ns:yang:ietf-netconf-monitoring"
YANGLIB_NS = "urn:ietf:params:xml:ns:yang:ietf-yang-library"
_Q = f"{{{NCM_NS}}}"
_FORMATS = {"yang": "yang", "yin": "yin"}


def _ts(t: float) -> str:
    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _sub(parent: etree._Element, name: str, text=None) -> etree._Element:
    el = etree.SubElement(parent, _Q + name)
    if text is not None:
        el.text = str(text)
    return el


def _revision(module) -> str:
    for rev in module.revisions():
        return str(rev.date())
    return ""


class Monitoring:
    def __init__(self, server: Host) -> None:
        self.server = server
        self._yanglib: list[etree._Element] | None = None

    # -- /netconf-state ---------------------------------------------------------

    def netconf_state(self) -> list[etree._Element]:
        srv = self.server
        root = etree.Element(_Q + "netconf-state", nsmap={None: NCM_NS, "ncm": NCM_NS})
        caps = _sub(root, "capabilities")
        for uri in srv.capabilities():
            _sub(caps, "capability", uri)
        self._datastores(_sub(root, "datastores"))
        schemas = _sub(root, "schemas")
        # Every module of the YANG library, libyang's built-in "yang" included:
        # each one listed can be fetched with get-schema.
        for m in srv.schema:
            s = _sub(schemas, "schema")
            _sub(s, "identifier", m.name())
            _sub(s, "version", _revision(m))
            _sub(s, "format", "ncm:yang")
            _sub(s, "namespace", module_ns(m))
            _sub(s, "location", "NETCONF")
        sessions = _sub(root, "sessions")
        totals = [0, 0, 0, 0]
        for session in list(srv.sessions.values()):
            s = _sub(sessions, "session")
            _sub(s, "session-id", session.session_id)
            _sub(s, "transport", "ncm:netconf-ssh")
            _sub(s, "username", session.username)
            if session.source_host:
                _sub(s, "source-host", session.source_host)
            _sub(s, "login-time", _ts(session.login_time))
            counts = (
                session.in_rpcs,
                session.in_bad_rpcs,
                session.out_rpc_errors,
                session.out_notifications,
            )
            for name, value in zip(
                ("in-rpcs", "in-bad-rpcs", "out-rpc-errors", "out-notifications"),
                counts,
                strict=True,
            ):
                _sub(s, name, value)
            totals = [a + b for a, b in zip(totals, counts, strict=True)]
        st = srv.stats
        stats = _sub(root, "statistics")
        _sub(stats, "netconf-start-time", _ts(st.start_time))
        _sub(stats, "in-bad-hellos", st.in_bad_hellos)
        _sub(stats, "in-sessions", st.in_sessions)
        _sub(stats, "dropped-sessions", st.dropped_sessions)
        _sub(stats, "in-rpcs", st.in_rpcs + totals[0])
        _sub(stats, "in-bad-rpcs", st.in_bad_rpcs + totals[1])
        _sub(stats, "out-rpc-errors", st.out_rpc_errors + totals[2])
        _sub(stats, "out-notifications", st.out_notifications + totals[3])
        return [root]

    def _datastores(self, parent: etree._Element) -> None:
        caps = self.server.capabilities()
        names = ["running"]
        if "urn:ietf:params:netconf:capability:candidate:1.0" in caps:
            names.append("candidate")
        if "urn:ietf:params:netconf:capability:startup:1.0" in caps:
            names.append("startup")
        # Optional hook of the datastore module: lock_info(name) -> (session_id, time) | None.
        ds = self.server.datastores
        lock_info = ds.locks.lock_info if ds is not None else None
        for name in names:
            ds = _sub(parent, "datastore")
            _sub(ds, "name", name)
            info = lock_info(name) if lock_info else None
            if info:
                locks = _sub(ds, "locks")
                gl = _sub(locks, "global-lock")
                _sub(gl, "locked-by-session", info[0])
                _sub(gl, "locked-time", _ts(info[1]))

    # -- RFC 8525 -----------------------------------------------------------------

    def yang_library(self) -> list[etree._Element]:
        if self._yanglib is None:
            data = self.server.schema.get_yanglib_data(self.server.content_id())
            text = data.print_mem("xml", with_siblings=True)
            data.free()
            wrapped = etree.fromstring(f"<x>{text}</x>")
            # Local file paths are useless to a remote client (it fetches modules with
            # get-schema) and reveal the agent's file system layout.
            for el in wrapped.iter(f"{{{YANGLIB_NS}}}location", f"{{{YANGLIB_NS}}}schema"):
                if (el.text or "").startswith("file://"):
                    el.getparent().remove(el)
            lib = wrapped.find(f"{{{YANGLIB_NS}}}yang-library")
            if lib is not None:
                _add_datastores(lib)
            self._yanglib = list(wrapped)
        return [copy.deepcopy(el) for el in self._yanglib]

    def state(self) -> list[etree._Element]:
        return self.netconf_state() + self.yang_library()

    # -- get-schema ---------------------------------------------------------------

    def get_schema(self, ctx: RpcContext, op: etree._Element) -> etree._Element:
        ident = op.findtext(_Q + "identifier")
        if ident is None or not ident.strip():
            raise RpcError(
                "missing-element",
                "get-schema needs an <identifier>",
                type="protocol",
                info=[("bad-element", "identifier")],
            )
        ident = ident.strip()
        version = (op.findtext(_Q + "version") or "").strip()
        fmt_el = op.find(_Q + "format")
        fmt = "yang"
        if fmt_el is not None:
            fmt = _FORMATS.get((fmt_el.text or "").strip().rsplit(":", 1)[-1])
            if fmt is None:
                raise RpcError(
                    "invalid-value",
                    f"schema format {fmt_el.text!r} is not served (yang and yin are)",
                    path=rpc_path(op, _Q + "format"),
                    info=[("bad-element", "format")],
                )
        module = next((m for m in self.server.schema if m.name() == ident), None)
        if module is None or (version and version != _revision(module)):
            which = f"{ident}@{version}" if version else ident
            raise RpcError(
                "invalid-value",
                f"no schema {which} on this server",
                path=rpc_path(op, _Q + "identifier"),
                info=[("bad-element", "identifier")],
            )
        out = etree.Element(_Q + "data", nsmap={None: NCM_NS})
        out.text = module_text(module, fmt)
        return out


def module_text(module, fmt: str = "yang") -> str:
    """The module as written (comments kept) when its file is known, else libyang's print."""
    if fmt == "yang":
        path = module.filepath()
        if path and path.endswith(".yang"):
            try:
                return Path(path).read_text()
            except OSError:
                pass
    return module.print_mem(fmt)


def register(server: Host) -> Monitoring:
    mon = Monitoring(server)
    server.register_rpc(NCM_NS, "get-schema", mon.get_schema)
    server.add_state_provider(mon.state)
    return mon


DS_NS = "urn:ietf:params:xml:ns:yang:ietf-datastores"
# RFC 8525 lists each datastore with its schema; libyang leaves that to the server.
# All of ours share libyang's one schema, "complete". agent.rpc.nmda serves them.
DATASTORES = ("running", "candidate", "startup", "operational")


def _add_datastores(lib: etree._Element) -> None:
    y = f"{{{YANGLIB_NS}}}"
    schema = lib.find(f"{y}schema/{y}name")
    schema_name = schema.text if schema is not None else "complete"
    content_id = lib.find(f"{y}content-id")
    for name in DATASTORES:
        ds = etree.Element(f"{y}datastore")
        etree.SubElement(ds, f"{y}name", nsmap={"ds": DS_NS}).text = f"ds:{name}"
        etree.SubElement(ds, f"{y}schema").text = schema_name
        if content_id is not None:
            content_id.addprevious(ds)
        else:
            lib.append(ds)
