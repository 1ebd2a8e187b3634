"""Commits on a failing disk, with the real dataplane, over real SSH: what the
commit must write (generated MAC addresses, the socket file record, running)
is written before the dataplane changes, so a failure changes nothing, and the
same commit succeeds once the disk works again, without a restart. And at start,
memif socket files a killed agent left behind are removed, nothing else."""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest
from agent_harness import small_tmpfs
from agent_harness import wait_until as wait
from lxml import etree
from ncclient.operations.rpc import RPCError

NS = "urn:memif-agent:yang:memif-agent"
P = {"m": NS}




def cfg(body: str) -> str:
    return f'<config><memif xmlns="{NS}">{body}</memif></config>'


def sock_itf(sid: int, path: str, iid: int = 1) -> str:
    """A socket and an ethernet server interface on it without a mac-address."""
    return (
        f"<socket><id>{sid}</id><filename>{path}</filename></socket>"
        f"<interface><socket-id>{sid}</socket-id><id>{iid}</id><enabled>true</enabled>"
        "</interface>"
    )


def live(m) -> dict[tuple[int, int], dict[str, str]]:
    """(socket-id, id) -> state leaves of every interface the dataplane runs."""
    d = m.get(filter=("subtree", f'<memif xmlns="{NS}"><interface/></memif>')).data
    out = {}
    for itf in d.xpath("//m:interface[m:state]", namespaces=P):
        key = (int(itf.findtext(f"{{{NS}}}socket-id")), int(itf.findtext(f"{{{NS}}}id")))
        out[key] = {
            etree.QName(c).localname: c.text or ""
            for c in itf.find(f"{{{NS}}}state")
            if len(c) == 0
        }
    return out


def running_sockets(m) -> list[int]:
    d = m.get_config("running").data
    return sorted(int(x) for x in d.xpath("//m:socket/m:id/text()", namespaces=P))


def test_unwritable_mac_store_fails_the_commit_before_the_dataplane(start_agent, tmp_path):
    ag = start_agent(tmp_path / "a")
    m = ag.connect()
    s1, s2 = str(tmp_path / "d1.sock"), str(tmp_path / "d2.sock")
    m.edit_config(target="running", config=cfg(sock_itf(1, s1)))
    wait(lambda: os.path.exists(s1))
    before = (ag.state_dir / "running.xml").read_bytes()
    macs_before = (ag.state_dir / "macs.json").read_bytes()
    # The MAC store's temporary file name is taken by a directory: its write fails
    # as on a read-only file system, even for root.
    blocker = ag.state_dir / ".macs.json.tmp"
    blocker.mkdir()
    for target in ("running", "candidate"):
        if target == "candidate":
            m.edit_config(target="candidate", config=cfg(sock_itf(2, s2)))
        with pytest.raises(RPCError) as exc:
            if target == "running":
                m.edit_config(target="running", config=cfg(sock_itf(2, s2)))
            else:
                m.commit()
        e = exc.value
        assert (e.tag, e.type) == ("operation-failed", "application"), e
        assert "cannot save the generated MAC addresses" in e.message
        # nothing changed: datastore file, running, the dataplane, the socket file
        assert (ag.state_dir / "running.xml").read_bytes() == before
        assert (ag.state_dir / "macs.json").read_bytes() == macs_before
        assert running_sockets(m) == [0, 1] or running_sockets(m) == [1]
        assert set(live(m)) == {(1, 1)}
        assert not os.path.exists(s2)
        assert not (ag.state_dir / ".running.xml.tmp").exists()
    # an edit that needs no new MAC address still works (running is consistent)
    m.edit_config(
        target="running",
        config=cfg(
            "<interface><socket-id>1</socket-id><id>1</id><enabled>false</enabled></interface>"
        ),
    )
    # the disk works again: the same commit succeeds, without a restart
    blocker.rmdir()
    m.commit()
    assert 2 in running_sockets(m)
    wait(lambda: (2, 1) in live(m))
    wait(lambda: os.path.exists(s2))
    saved = json.loads((ag.state_dir / "macs.json").read_text())
    assert saved["2/1"].startswith("02:fe:")
    assert live(m)[(2, 1)]["mac-address"] == saved["2/1"]  # the dataplane uses the saved one


def test_full_state_dir_fails_the_commit_and_it_succeeds_once_space_returns(start_agent, tmp_path):
    with small_tmpfs(tmp_path / "small", "128k") as state:
        ag = start_agent(tmp_path / "a", "--state-dir", str(state))
        m = ag.connect()
        s1 = str(tmp_path / "f1.sock")
        m.edit_config(target="running", config=cfg(sock_itf(1, s1)))
        before = (state / "running.xml").read_bytes()
        filler = state / "filler"
        with open(filler, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:
                pass
            # room for a small running.xml, not for one with 60 sockets
            f.truncate(max(0, f.tell() - 8192))
        # new sockets each with an ethernet interface (MACs to generate), and
        # enough of them that running.xml outgrows what is left
        new = "".join(sock_itf(i, str(tmp_path / f"f{i}.sock")) for i in range(2, 60))
        m.edit_config(target="candidate", config=cfg(new))
        with pytest.raises(RPCError) as exc:
            m.commit()
        assert exc.value.tag == "operation-failed"
        assert "cannot save" in exc.value.message
        assert (state / "running.xml").read_bytes() == before
        assert set(live(m)) == {(1, 1)}
        assert not any(os.path.exists(tmp_path / f"f{i}.sock") for i in range(2, 60))
        # running still takes edits that fit
        m.edit_config(
            target="running",
            config=cfg(
                "<interface><socket-id>1</socket-id><id>1</id><enabled>false</enabled></interface>"
            ),
        )
        filler.unlink()
        m.commit()  # the same candidate, now that there is space
        wait(lambda: len(live(m)) == 59)
        assert all(os.path.exists(tmp_path / f"f{i}.sock") for i in range(2, 60))
        ag.stop()


def test_stale_sockets_of_a_killed_agent_are_removed_at_start(start_agent, tmp_path):
    ag = start_agent(tmp_path / "a")
    m = ag.connect()
    keep, stale, squat, turned = (
        str(tmp_path / f"{n}.sock") for n in ("keep", "stale", "squat", "turned")
    )
    m.edit_config(target="running", config=cfg(sock_itf(1, keep)))
    # a confirmed commit adds three more sockets; the agent dies before it is
    # confirmed, so running after the restart does not list them
    m.edit_config(
        target="candidate",
        config=cfg(sock_itf(2, stale) + sock_itf(3, squat) + sock_itf(4, turned)),
    )
    m.commit(confirmed=True, timeout="600")
    for p in (keep, stale, squat, turned):
        wait(lambda p=p: os.path.exists(p))
    ag.kill()
    # what the killed agent left: stale sockets. Someone else now listens on
    # one of them, and another was replaced by a regular file.
    os.unlink(squat)
    other = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    other.bind(squat)
    other.listen(1)
    os.unlink(turned)
    with open(turned, "w") as f:
        f.write("not a socket\n")
    # files the agent never created are never touched, sockets or not
    foreign = str(tmp_path / "foreign.sock")
    fs = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    fs.bind(foreign)
    fs.close()  # a stale socket, but not the agent's
    shutil.copy(ag.state_dir / "running.xml", tmp_path / "running.before")
    try:
        ag.start()
        ag.wait_log(f"removed stale memif socket file {stale}")
        m = ag.connect()
        assert running_sockets(m) in ([0, 1], [1])
        assert not os.path.exists(stale)
        assert os.path.exists(keep)  # listed in running: the dataplane listens on it
        wait(lambda: (1, 1) in live(m))
        assert os.path.exists(squat) and os.path.exists(turned) and os.path.exists(foreign)
        assert open(turned).read() == "not a socket\n"
        log = ag.log()
        assert f"removed stale memif socket file {squat}" not in log
        assert f"removed stale memif socket file {turned}" not in log
        assert "foreign.sock" not in log
        # the record now holds only what running lists
        assert (ag.state_dir / "sockets.json").read_text().count(".sock") == 1
    finally:
        other.close()
