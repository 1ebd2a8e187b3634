"""A RESTCONF client for the tests: requests over real HTTPS, verifying the
agent's generated certificate (it names 127.0.0.1).

    rc = RestconfClient(agent)                    # agent started with --restconf-port 0
    r = rc.get("data/memif-agent:memif", accept="json")
"""

from __future__ import annotations

import json
from pathlib import Path

import requests

XML = "application/yang-data+xml"
JSON = "application/yang-data+json"
PATCH_JSON = "application/yang-patch+json"
PATCH_XML = "application/yang-patch+xml"
NS = "urn:memif-agent:yang:memif-agent"
RC_NS = "urn:ietf:params:xml:ns:yang:ietf-restconf"
RESTCONF_ARGS = ("--restconf-port", "0")


def media(fmt: str | None) -> str | None:
    return {"json": JSON, "xml": XML, None: None}.get(fmt, fmt)


class RestconfClient:
    def __init__(
        self,
        agent,
        user: str = "admin",
        password: str | None = "admin",
        scheme: str = "https",
        cert: tuple[str, str] | None = None,
    ) -> None:
        self.agent = agent
        self.root = f"{scheme}://127.0.0.1:{agent.restconf_port}"
        self.base = self.root + "/restconf/"
        self.http = requests.Session()
        # No CA bundle or proxy from the environment: REQUESTS_CA_BUNDLE would
        # override the agent's certificate given below.
        self.http.trust_env = False
        if password is not None:
            self.http.auth = (user, password)
        self.http.verify = str(self.cert_path) if scheme == "https" else False
        if cert is not None:
            self.http.cert = cert

    @property
    def cert_path(self) -> Path:
        return Path(self.agent.state_dir) / "restconf_cert.pem"

    def request(
        self,
        method: str,
        path: str,
        body=None,
        content: str | None = None,
        accept: str | None = "json",
        headers: dict | None = None,
        **kw,
    ) -> requests.Response:
        h = dict(headers or {})
        if accept is not None:
            h["Accept"] = media(accept)
        data = None
        if body is not None:
            if isinstance(body, dict | list):
                data = json.dumps(body).encode()
                content = content or "json"
            else:
                data = body.encode() if isinstance(body, str) else body
                content = content or "xml"
            h["Content-Type"] = media(content)
        url = path if path.startswith("http") else self.base + path.lstrip("/")
        return self.http.request(method, url, data=data, headers=h, timeout=30, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)

    def put(self, path: str, body, **kw) -> requests.Response:
        return self.request("PUT", path, body, **kw)

    def post(self, path: str, body, **kw) -> requests.Response:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body, **kw) -> requests.Response:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw) -> requests.Response:
        return self.request("DELETE", path, **kw)

    def close(self) -> None:
        self.http.close()


def error_tags(r: requests.Response) -> list[str]:
    """The error-tags of an ietf-restconf:errors reply in JSON."""
    doc = r.json()
    return [e["error-tag"] for e in doc["ietf-restconf:errors"]["error"]]


def socket_body(sid: int, filename: str) -> dict:
    return {"memif-agent:socket": [{"id": sid, "filename": filename}]}


def interface_body(sid: int, iid: int, **leaves) -> dict:
    return {"memif-agent:interface": [{"socket-id": sid, "id": iid, **leaves}]}
