"""`orderhub worker --check`: every queue asked for needs a worker whose heartbeat is recent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runtime.heartbeat import Beat, _parse, check_workers

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
ALL = ["default", "predict", "long"]


def beat(worker: str, queues: tuple[str, ...], seconds_ago: float, jobs: int = 0) -> Beat:
    at = NOW - timedelta(seconds=seconds_ago)
    return Beat(worker, queues, at - timedelta(hours=1), at, jobs, 0, 0)


def test_a_live_worker_of_every_queue_passes() -> None:
    result = check_workers([beat("a:1", tuple(ALL), 4, jobs=57)], ALL, NOW, interval_s=10)
    assert result.ok
    assert result.line == "ok: 1 worker(s) alive: a:1 (default, predict, long) 4 s ago, 57 jobs run"


def test_a_silent_worker_fails_and_says_since_when() -> None:
    result = check_workers([beat("a:1", tuple(ALL), 31)], ALL, NOW, interval_s=10)
    assert not result.ok
    assert result.line == "failed: no live worker for queue default, predict, long (a:1 silent for 31 s)"


def test_one_dead_worker_is_covered_by_another_of_the_same_queues() -> None:
    beats = [beat("a:1", tuple(ALL), 300), beat("b:2", tuple(ALL), 1)]
    result = check_workers(beats, ALL, NOW, interval_s=10)
    assert result.ok and "b:2" in result.line and "a:1" not in result.line


def test_each_queue_needs_its_own_worker() -> None:
    beats = [beat("a:1", ("default",), 1), beat("b:2", ("predict", "long"), 100)]
    assert check_workers(beats, ["default"], NOW, interval_s=10).ok
    result = check_workers(beats, ALL, NOW, interval_s=10)
    assert result.line == "failed: no live worker for queue predict, long (b:2 silent for 100 s)"


def test_no_heartbeat_at_all() -> None:
    result = check_workers([], ["long"], NOW, interval_s=10)
    assert result.line == "failed: no live worker for queue long (no heartbeat at all)"


def test_a_key_in_another_shape_is_skipped() -> None:
    assert _parse(b'{"worker": "old"}') is None
    assert _parse(b"not json") is None
