"""One computation answers everyone asking for the same thing at once or soon after; a failed one is not kept and
a caller that leaves does not cancel it for the others."""

from __future__ import annotations

import asyncio

import pytest

from api.graphql.health.live import Shared


class Counter:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.calls, self.delay, self.fail = 0, delay, fail

    async def __call__(self) -> int:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("database went away")
        return self.calls


async def test_callers_at_once_and_soon_after_share_one_computation() -> None:
    shared: Shared[int] = Shared(60)
    compute = Counter(delay=0.05)
    answers = await asyncio.gather(*(shared.get("day", compute) for _ in range(5)))
    assert answers == [1] * 5 and compute.calls == 1
    assert await shared.get("day", compute) == 1  # soon after: the same answer
    assert await shared.get("hour", compute) == 2  # another key: its own


async def test_an_answer_is_kept_only_for_its_seconds() -> None:
    shared: Shared[int] = Shared(0.05)
    compute = Counter()
    assert await shared.get("day", compute) == 1
    await asyncio.sleep(0.1)
    assert await shared.get("day", compute) == 2


async def test_zero_seconds_computes_every_time() -> None:
    shared: Shared[int] = Shared(0)
    compute = Counter()
    assert [await shared.get("day", compute) for _ in range(3)] == [1, 2, 3]


async def test_a_failure_reaches_every_waiter_and_is_not_kept() -> None:
    shared: Shared[int] = Shared(60)
    failing = Counter(delay=0.02, fail=True)
    results = await asyncio.gather(*(shared.get("day", failing) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results) and failing.calls == 1
    await asyncio.sleep(0)  # the done callback runs
    assert await shared.get("day", Counter()) == 1  # asked again, computed again


async def test_a_caller_that_leaves_does_not_cancel_the_others() -> None:
    shared: Shared[int] = Shared(60)
    compute = Counter(delay=0.05)
    leaving = asyncio.ensure_future(shared.get("day", compute))
    staying = asyncio.ensure_future(shared.get("day", compute))
    await asyncio.sleep(0.01)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert await staying == 1 and compute.calls == 1
