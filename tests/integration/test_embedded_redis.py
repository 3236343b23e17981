"""The embedded default runs one real redis-server per data directory, shared by every process that
starts against it, kept while any of them uses it, and cleaned up after killed processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis
from arq.connections import ArqRedis
from arq.worker import Worker, func

from runtime.embedded_redis import EmbeddedRedis, _alive

REPO = Path(__file__).parents[2]


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
    assert not _alive(state["server_pid"])


def test_queued_data_survives_a_restart(tmp_path: Path) -> None:
    """A deferred job (a payment deadline half an hour away) must not vanish when orderhub restarts."""
    embedded = EmbeddedRedis(tmp_path)
    client = redis.Redis.from_url(embedded.start())
    client.zadd("arq:queue", {"outbox:1:1": 1})
    client.close()
    embedded.stop()
    client = redis.Redis.from_url(embedded.start())
    try:
        assert client.zrange("arq:queue", 0, -1) == [b"outbox:1:1"]
    finally:
        client.close()
        embedded.stop()


# --- real OS processes sharing one data directory --------------------------------------------------------


async def whoami(ctx: dict[str, Any], token: str) -> str:
    return f"{os.getpid()}:{token}"


def child(directory: str, start_at: float) -> None:
    """An orderhub-like process: starts the data directory's redis at `start_at`, then obeys stdin."""
    time.sleep(max(0.0, start_at - time.time()))
    embedded = EmbeddedRedis(Path(directory))
    url = embedded.start()
    print(json.dumps({"url": url, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        command, _, arg = line.strip().partition(" ")
        if command == "enqueue":
            print(asyncio.run(_enqueue_and_wait(url, arg)), flush=True)
        elif command == "work":
            asyncio.run(_work(url))
            print("worked", flush=True)
        elif command == "ping":
            print(redis.Redis.from_url(url).ping(), flush=True)
        elif command == "stop":
            embedded.stop()
            print("stopped", flush=True)
            return


async def _enqueue_and_wait(url: str, token: str) -> str:
    pool = ArqRedis.from_url(url)
    try:
        job = await pool.enqueue_job("whoami", token)
        assert job is not None
        print("enqueued", flush=True)
        return str(await job.result(timeout=30, poll_delay=0.05))
    finally:
        await pool.aclose()


async def _work(url: str) -> None:
    worker = Worker([func(whoami, name="whoami")], redis_pool=ArqRedis.from_url(url), burst=True, poll_delay=0.05,
                    handle_signals=False)  # fmt: skip
    await worker.async_run()
    await worker.close()


class Child:
    def __init__(self, directory: Path, start_at: float) -> None:
        code = f"from tests.integration.test_embedded_redis import child; child({str(directory)!r}, {start_at!r})"
        self.process = subprocess.Popen(
            [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO
        )
        self.started: dict[str, Any] = {}

    def read(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"child {self.process.pid} exited with {self.process.wait()}"
        return line.strip()

    def send(self, command: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def up(self) -> dict[str, Any]:
        self.started = json.loads(self.read())
        return self.started

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()


def test_processes_started_together_share_one_server_that_outlives_its_starter(tmp_path: Path) -> None:
    start_at = time.time() + 1.5  # both import first, then start in the same instant
    a, b = Child(tmp_path, start_at), Child(tmp_path, start_at)
    c: Child | None = None
    try:
        assert a.up()["url"] == b.up()["url"]
        state = json.loads((tmp_path / "embedded-redis.json").read_text())
        server = state["server_pid"]

        a.send("enqueue t1")  # a job sent by one process is run by a worker of the other
        assert a.read() == "enqueued"
        b.send("work")
        assert b.read() == "worked"
        assert a.read() == f"{b.started['pid']}:t1"

        starter, other = (a, b) if state["started_by"] == a.started["pid"] else (b, a)
        starter.kill()  # the process that started the server dies; the other one keeps using it
        other.send("ping")
        assert other.read() == "True"
        c = Child(tmp_path, 0)  # a newcomer adopts the running server: it is nobody's orphan
        assert c.up()["url"] == other.started["url"]
        assert json.loads((tmp_path / "embedded-redis.json").read_text())["server_pid"] == server

        other.send("stop")  # not the last user: the server stays
        assert other.read() == "stopped"
        c.send("ping")
        assert c.read() == "True"
        c.send("stop")  # the last user stops it
        assert c.read() == "stopped"
        assert not _alive(server)
        assert not (tmp_path / "embedded-redis.json").exists()
    finally:
        for process in (a, b, c):
            if process is not None:
                process.kill()


def test_orphan_of_a_killed_owner_is_stopped(tmp_path: Path) -> None:
    owner = Child(tmp_path, 0)
    owner.up()
    orphan_pid = json.loads((tmp_path / "embedded-redis.json").read_text())["server_pid"]
    owner.kill()
    assert _alive(orphan_pid)  # detached: a killed owner leaves it running
    successor = EmbeddedRedis(tmp_path)
    successor.start()
    try:
        assert not _alive(orphan_pid)
        assert json.loads((tmp_path / "embedded-redis.json").read_text())["server_pid"] != orphan_pid
        assert redis.Redis.from_url(successor.url).ping()
    finally:
        successor.stop()
