"""`orderhub serve --workers 2` with a metrics port: both API processes count into one directory and the
port answers for both (prometheus-client's multiprocess mode), while the API's own /metrics is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).parents[2]
START_TIMEOUT_S = 60
REQUESTS = 40


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> int:
    """How many health checks were answered while waiting (they are counted too)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read().decode()[-3000:] if process.stderr else ""
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return 1
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"no answer from {url} within {START_TIMEOUT_S} s")


def test_two_api_processes_are_scraped_as_one(tmp_path: Path, redis_url: str) -> None:
    port, metrics_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ORDERHUB_", "PROMETHEUS_"))}
    env |= {"ORDERHUB_DATA_DIR": str(tmp_path / "data"), "ORDERHUB_REDIS_URL": redis_url,
            "ORDERHUB_METRICS_PORT": str(metrics_port), "ORDERHUB_LOG_LEVEL": "WARNING"}  # fmt: skip
    command = [sys.executable, "-m", "cli.main", "serve", "--workers", "2", "--port", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        answered = wait_healthy(f"{base}/healthz", process)

        def check(_: int) -> int:
            return httpx.get(f"{base}/healthz", headers={"Connection": "close"}, timeout=10).status_code

        with ThreadPoolExecutor(8) as pool:
            assert set(pool.map(check, range(REQUESTS))) == {200}
        assert httpx.get(f"{base}/metrics", timeout=10).status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        live = {p.stem.rsplit("_", 1)[1] for p in (tmp_path / "data" / "metrics").glob("gauge_livesum_*.db")}
    finally:
        process.terminate()
        process.wait(30)
    assert scraped.status_code == 200
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    counted = samples[("orderhub_requests_total", (("caller", "anonymous"), ("operation", "/healthz")))]
    assert counted == REQUESTS + answered
    assert samples[("orderhub_outbox_unsent", ())] == 0  # read from the database when scraped
    assert len(live - {str(process.pid)}) == 2, live  # each API process counts in the shared directory...
    assert not list((tmp_path / "data" / "metrics").glob("gauge_livesum_*.db"))  # ...until it stops
