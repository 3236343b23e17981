"""Worker heartbeats in Redis: each `orderhub worker` process writes one, `orderhub worker --check` and
staff's `/readyz` read them.

arq's own health-check key is per queue, so two workers of one queue overwrite each other's and a dead
one hides behind a live one. Here each process has its own key, holding its id, the queues it serves,
when it started, when it last wrote and how many jobs it ran; a key outlives its writer (it expires after
an hour), so that a worker that died is reported as silent since a given time rather than forgotten.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis

KEEP_S = 3600
MISSED_BEATS = 3  # a worker silent for this many intervals is taken for dead


@dataclass(frozen=True)
class Beat:
    worker_id: str  # host:pid
    queues: tuple[str, ...]  # default, predict, long
    started_at: datetime
    at: datetime
    jobs_run: int  # jobs started by this process, cron runs and retries included
    cron_jobs_run: int
    jobs_in_flight: int

    def age_s(self, now: datetime) -> float:
        return max(0.0, (now - self.at).total_seconds())

    def alive(self, now: datetime, interval_s: float) -> bool:
        return self.age_s(now) <= MISSED_BEATS * interval_s

    def as_json(self, now: datetime, interval_s: float) -> dict[str, Any]:
        return {
            "workerId": self.worker_id,
            "queues": list(self.queues),
            "startedAt": self.started_at.isoformat(),
            "lastBeatAt": self.at.isoformat(),
            "secondsSinceBeat": round(self.age_s(now), 1),
            "alive": self.alive(now, interval_s),
            "jobsRun": self.jobs_run,
            "cronJobsRun": self.cron_jobs_run,
            "jobsInFlight": self.jobs_in_flight,
        }


def beat_key(prefix: str, worker_id: str) -> str:
    return f"{prefix}:worker:{worker_id}"


async def write_beat(redis: Redis, prefix: str, beat: Beat) -> None:
    fields = asdict(beat) | {"started_at": beat.started_at.isoformat(), "at": beat.at.isoformat()}
    await redis.set(beat_key(prefix, beat.worker_id), json.dumps(fields), ex=KEEP_S)


async def remove_beat(redis: Redis, prefix: str, worker_id: str) -> None:
    """A worker that stops cleanly takes its key with it: only workers that died stay behind, silent."""
    await redis.delete(beat_key(prefix, worker_id))


async def read_beats(redis: Redis, prefix: str) -> list[Beat]:
    keys = [key async for key in redis.scan_iter(match=beat_key(prefix, "*"), count=500)]
    if not keys:
        return []
    beats = [_parse(raw) for raw in await redis.mget(keys) if raw is not None]
    return sorted((b for b in beats if b is not None), key=lambda b: b.worker_id)


def _parse(raw: bytes | str) -> Beat | None:
    """A key another release wrote in another shape is skipped, not fatal to the check."""
    try:
        fields = json.loads(raw)
        return Beat(
            worker_id=str(fields["worker_id"]),
            queues=tuple(str(q) for q in fields["queues"]),
            started_at=datetime.fromisoformat(fields["started_at"]),
            at=datetime.fromisoformat(fields["at"]),
            jobs_run=int(fields["jobs_run"]),
            cron_jobs_run=int(fields["cron_jobs_run"]),
            jobs_in_flight=int(fields["jobs_in_flight"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True)
class WorkerCheck:
    ok: bool
    line: str  # what `orderhub worker --check` prints


def check_workers(beats: Sequence[Beat], queues: Sequence[str], now: datetime, interval_s: float) -> WorkerCheck:
    """Passes when every queue asked for is served by a worker that wrote within MISSED_BEATS intervals."""
    alive = [b for b in beats if b.alive(now, interval_s)]
    unserved = [q for q in queues if not any(q in b.queues for b in alive)]
    if not unserved:
        listed = "; ".join(
            f"{b.worker_id} ({', '.join(b.queues)}) {b.age_s(now):.0f} s ago, {b.jobs_run} jobs run" for b in alive
        )
        return WorkerCheck(True, f"ok: {len(alive)} worker(s) alive: {listed}")
    silent = [b for b in beats if not b.alive(now, interval_s) and set(unserved) & set(b.queues)]
    last = "; ".join(f"{b.worker_id} silent for {b.age_s(now):.0f} s" for b in silent) or "no heartbeat at all"
    return WorkerCheck(False, f"failed: no live worker for queue {', '.join(unserved)} ({last})")
