"""The embedded default runs a real redis-server and cleans up after a killed owner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from workers.embedded_redis import EmbeddedRedis, _alive


def test_start_serve_stop(tmp_path: Path) -> None:
    embedded = EmbeddedRedis(tmp_path)
    url = embedded.start()
    client = redis.Redis.from_url(url)
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"
    client.close()
    state = json.loads((tmp_path / "embedded-redis.json").read_text())
    embedded.stop()
    assert not (tmp_path / "embedded-redis.json").exists()
    assert not _alive(state["server_pid"]) or _zombie(state["server_pid"])


def _zombie(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" in status.read_text()


def test_orphan_of_a_killed_owner_is_stopped(tmp_path: Path) -> None:
    script = (
        "import sys, time; from workers.embedded_redis import EmbeddedRedis; "
        f"EmbeddedRedis(__import__('pathlib').Path({str(tmp_path)!r})).start(); print('up', flush=True); time.sleep(60)"
    )
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, cwd=Path(__file__).parents[2])
    assert owner.stdout is not None and owner.stdout.readline().strip() == b"up"
    orphan_pid = json.loads((tmp_path / "embedded-redis.json").read_text())["server_pid"]
    os.kill(owner.pid, signal.SIGKILL)
    owner.wait()
    assert _alive(orphan_pid)
    successor = EmbeddedRedis(tmp_path)
    successor.start()
    try:
        assert not _alive(orphan_pid) or _zombie(orphan_pid)
        assert redis.Redis.from_url(successor.url).ping()
    finally:
        successor.stop()
