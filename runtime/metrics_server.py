"""/metrics on a port of its own (ORDERHUB_METRICS_PORT, ORDERHUB_METRICS_WORKER_PORT), for scrapers only.

Served by prometheus-client's own HTTP server in a thread: it answers while the event loop is busy, and with
`serve --workers N` the parent process serves it, for every process counting into the shared directory.
Whoever reaches the port reads the metrics: bind it to the network the scrapers are on, not the public one.
"""

from __future__ import annotations

from prometheus_client import start_http_server

from domain.settings import Settings
from runtime.metrics import scrape_registry
from runtime.metrics_state import StateCollector


def serve_metrics(port: int, settings: Settings, redis_url: str | None) -> None:
    """Without a Redis URL (the embedded Redis belongs to the API process) queue depths are not reported."""
    collector = StateCollector(settings.resolved_database_url(), redis_url)
    start_http_server(port, registry=scrape_registry(collector))
