"""What metrics, structured logs and request ids cost a bench's API, measured in the same run.

Two API servers run side by side on the same database and Redis, one as configured for production (metrics
counted, JSON log lines, request ids) and one with all of it off (ORDERHUB_METRICS_ENABLED=false,
ORDERHUB_STRUCTURED_LOGS=false). Tracing is off in both: without OTEL_EXPORTER_OTLP_ENDPOINT nothing is
instrumented, which is the cost being claimed. Their traffic is cut into rounds, and each round is driven
on both servers at once: a neighbour's burst on a shared machine lands on both sides rather than on one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import TypeVar

T = TypeVar("T")

OFF = {"ORDERHUB_METRICS_ENABLED": "false", "ORDERHUB_STRUCTURED_LOGS": "false"}
ROUNDS = 8


def observed_env(env: dict[str, str], on: bool) -> dict[str, str]:
    """`env` with observability on (the defaults) or off."""
    plain = {k: v for k, v in env.items() if k not in OFF}
    return plain if on else plain | OFF


def rounds(items: Sequence[T], count: int = ROUNDS) -> list[Sequence[T]]:
    size = -(-len(items) // count)
    return [items[i : i + size] for i in range(0, len(items), size)]


@dataclass(frozen=True)
class Overhead:
    on_seconds: float
    off_seconds: float
    on_cpu_s: float | None
    off_cpu_s: float | None
    round_ratios: tuple[float, ...] = ()  # on / off seconds of each pair of rounds

    @property
    def pct(self) -> float:
        """How much longer the same amount of traffic took with observability on, in percent: the median
        over the pairs of rounds, so that one round a neighbour's burst slowed does not decide it."""
        ratio = median(self.round_ratios) if self.round_ratios else self.on_seconds / self.off_seconds
        return round(100 * (ratio - 1), 1)

    @property
    def cpu_pct(self) -> float | None:
        """The same for the API process's CPU time: steadier than wall time on a shared machine."""
        if not self.on_cpu_s or not self.off_cpu_s:
            return None
        return round(100 * (self.on_cpu_s / self.off_cpu_s - 1), 1)


async def side_by_side(
    on: Sequence[Callable[[], Awaitable[float]]],
    off: Sequence[Callable[[], Awaitable[float]]],
    cpu: tuple[Callable[[], float | None], Callable[[], float | None]],
) -> Overhead:
    """Runs each round on both sides at once, summing each side's seconds and its server's CPU time."""
    assert len(on) == len(off)
    seconds = {True: 0.0, False: 0.0}
    used: dict[bool, float | None] = {True: 0.0, False: 0.0}
    ratios = []
    for on_round, off_round in zip(on, off, strict=True):
        before = (cpu[0](), cpu[1]())
        took_on, took_off = await asyncio.gather(on_round(), off_round())
        after = (cpu[0](), cpu[1]())
        seconds[True] += took_on
        seconds[False] += took_off
        for index, side in enumerate((True, False)):
            spent, start, end = used[side], before[index], after[index]
            used[side] = None if spent is None or start is None or end is None else spent + end - start
        ratios.append(took_on / took_off)
    return Overhead(seconds[True], seconds[False], used[True], used[False], tuple(ratios))
