"""Crash-safe files (agent.persist) on real files: a staged file is in place
only after commit; an identical write of a file this process made durable is
skipped (an empty <commit> costs no fsync), and a file changed behind our back
is written again."""

from __future__ import annotations

import os

from agent.datastore import persist

NS = "urn:memif-agent:yang:memif-agent"


def test_staged_in_place_only_after_commit(tmp_path) -> None:
    target = tmp_path / "running.xml"
    target.write_bytes(b"old")
    s = persist.Staged(target, b"new")
    assert target.read_bytes() == b"old" and (tmp_path / ".running.xml.tmp").exists()
    s.commit()
    assert target.read_bytes() == b"new" and not (tmp_path / ".running.xml.tmp").exists()
    s = persist.Staged(target, b"newer")
    s.abort()
    assert target.read_bytes() == b"new" and not (tmp_path / ".running.xml.tmp").exists()


def test_identical_write_is_skipped_until_the_file_changes(tmp_path) -> None:
    target = tmp_path / "sockets.json"
    persist.atomic_write(target, b"[1]")
    ino = os.stat(target).st_ino
    s = persist.Staged(target, b"[1]")
    assert s.unchanged and not (tmp_path / ".sockets.json.tmp").exists()
    s.commit()
    assert os.stat(target).st_ino == ino  # not renamed over: nothing was written
    # Different data is written as usual.
    persist.Staged(target, b"[2]").commit()
    assert target.read_bytes() == b"[2]" and os.stat(target).st_ino != ino
    # Someone else rewrote the file: the same data is no longer known to be there.
    target.write_bytes(b"[3]")
    s = persist.Staged(target, b"[2]")
    assert not s.unchanged
    s.commit()
    assert target.read_bytes() == b"[2]"
    # A removed file is never taken as durable.
    persist.atomic_remove(target)
    s = persist.Staged(target, b"[2]")
    assert not s.unchanged
    s.commit()
    assert target.read_bytes() == b"[2]"


def test_empty_commit_leaves_running_xml_alone(start_agent, tmp_path) -> None:
    ag = start_agent(tmp_path / "a", "--no-dataplane")
    m = ag.connect()
    m.edit_config(
        target="candidate",
        config=f'<config><memif xmlns="{NS}"><socket><id>3</id>'
        f"<filename>{tmp_path}/m3.sock</filename></socket></memif></config>",
    )
    m.commit()
    running = ag.state_dir / "running.xml"
    before = os.stat(running)
    assert b"m3.sock" in running.read_bytes()
    m.commit()  # nothing changed: running.xml is not rewritten
    m.commit()
    after = os.stat(running)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    m.edit_config(
        target="candidate",
        config=f'<config><memif xmlns="{NS}"><socket><id>4</id>'
        f"<filename>{tmp_path}/m4.sock</filename></socket></memif></config>",
    )
    m.commit()
    assert os.stat(running).st_ino != before.st_ino and b"m4.sock" in running.read_bytes()
    m.close_session()
