"""The README's RESTCONF first steps, run as written with curl against a real
agent (only the two lines that say where the certificate and the agent are
point at the test's agent)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from agent_harness import REPO
from restconf_client import RESTCONF_ARGS, RestconfClient


def first_steps() -> list[str]:
    text = (REPO / "README.md").read_text()
    m = re.search(
        r"<!-- restconf-first-steps -->\n```sh\n(.*?)```\n<!-- /restconf-first-steps -->",
        text,
        re.S,
    )
    assert m, "README.md has no RESTCONF first-steps block"
    return m.group(1).splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed (make deps)")
def test_readme_first_steps_with_curl(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a", *RESTCONF_ARGS)
    lines = first_steps()
    assert sum(ln.startswith("curl ") for ln in lines) == 3
    script = []
    for ln in lines:
        if ln.startswith("CERT="):
            ln = f"CERT={ag.state_dir / 'restconf_cert.pem'}"
        elif ln.startswith("R="):
            ln = f"R=https://127.0.0.1:{ag.restconf_port}/restconf"
        script.append(ln)
    r = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", "\n".join(script)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert r.returncode == 0, r.stdout + r.stderr
    state = json.loads(r.stdout)["memif-agent:state"]
    assert state["name"] == "memif23/100"
    assert state["admin-status"] == "up"
    assert state["link-status"] == "down"  # no peer yet
    # and it was committed: running holds both, as NETCONF sees it
    cfg = ag.connect().get_config("running").data_xml
    assert "/tmp/memif23.sock" in cfg and "<id>100</id>" in cfg
    RestconfClient(ag).delete("data/memif-agent:memif/interface=23,100")
