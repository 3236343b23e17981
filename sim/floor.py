"""How long each fulfilment step takes on the simulated floor, and why.

The waits depend on things a careful planner knows and a per-stage median ignores: paid orders are released
to the floor in waves, so an order paid after the last wave waits for tomorrow's first; the night shift and
weekends are slower; some pickers and packers are faster than others; a long queue in front of an order
slows it down; a bigger basket takes longer to pick and pack; each carrier's truck comes at its own hours,
and carriers differ in days to deliver. Noise on top of all of it. orderhub's model never reads these
numbers: it has to find them in the event log, as it would on a real floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from random import Random
from typing import Final


@dataclass(frozen=True)
class FloorPlan:
    waves: tuple[time, ...]  # local times a wave releases paid orders to the floor, Monday to Friday
    weekend_waves: tuple[time, ...]  # Saturday and Sunday
    crew: float  # how many queued orders the floor absorbs before it slows down


FLOORS: Final[dict[str, FloorPlan]] = {
    "WH-SH-01": FloorPlan((time(9), time(13), time(17), time(20, 30)), (time(10), time(16)), 40.0),
    "WH-GZ-02": FloorPlan((time(8, 30), time(12), time(16)), (time(11),), 25.0),
    "WH-CD-03": FloorPlan((time(10), time(15)), (time(12),), 15.0),
}
# Minutes a unit of work takes a picker or packer, relative to the floor's average.
SPEED: Final[dict[str, float]] = {
    "Li Lei": 0.55, "Han Meimei": 0.8, "Zhang Wei": 1.0, "Wang Fang": 1.15,
    "Liu Yang": 1.4, "Chen Jing": 1.8, "Zhao Min": 2.4,
}  # fmt: skip
# Local hours the carrier's truck collects parcels; on Sunday only the carriers marked True come.
TRUCKS: Final[dict[str, tuple[tuple[int, ...], bool]]] = {
    "SF": ((11, 15, 19), True),
    "JD": ((10, 16, 21), True),
    "ZTO": ((18,), False),
    "YTO": ((17,), False),
}
DELIVERY_HOURS: Final[dict[str, float]] = {"SF": 22.0, "JD": 18.0, "ZTO": 46.0, "YTO": 58.0}
NIGHT: Final = (22, 6)  # the night shift, local hours [22, 6): fewer hands


def _noise(rng: Random, sigma: float = 0.25) -> float:
    return math.exp(rng.gauss(0.0, sigma))


def _slow_hours(at: datetime) -> float:
    night = at.hour >= NIGHT[0] or at.hour < NIGHT[1]
    weekend = at.weekday() >= 5
    return (2.2 if night else 1.0) * (1.35 if weekend else 1.0)


def release(rng: Random, warehouse: str, paid: datetime) -> datetime:
    """The ship request: the first wave after payment (the wave's cut-off is its start), plus the clerk's lag."""
    plan = FLOORS[warehouse]
    day = paid.date()
    for _ in range(8):
        waves = plan.weekend_waves if day.weekday() >= 5 else plan.waves
        for wave in waves:
            start = datetime.combine(day, wave)
            if start >= paid:
                return start + timedelta(minutes=rng.uniform(3, 25))
        day += timedelta(days=1)
    raise AssertionError("no wave within a week")


def pick(rng: Random, warehouse: str, requested: datetime, picker: str, items: int, queue: int) -> datetime:
    minutes = 14.0 * (1 + 0.35 * (items - 1)) * SPEED[picker] * _slow_hours(requested)
    minutes *= 1 + queue / FLOORS[warehouse].crew
    return requested + timedelta(minutes=minutes * _noise(rng))


def pack(rng: Random, warehouse: str, picked: datetime, picker: str, items: int, queue: int) -> datetime:
    """The picker carries the tote to packing, so the picker's pace shows here too."""
    minutes = 6.0 * (1 + 0.25 * (items - 1)) * SPEED[picker] * _slow_hours(picked)
    minutes *= 1 + queue / (2 * FLOORS[warehouse].crew)
    return picked + timedelta(minutes=minutes * _noise(rng) + rng.uniform(1, 4))


def outbound(rng: Random, packed: datetime, carrier: str) -> datetime:
    """Parcels leave with the carrier's next truck after a short handling time."""
    hours, sunday = TRUCKS[carrier]
    ready = packed + timedelta(minutes=10 + 10 * rng.random())
    day = ready.date()
    for _ in range(8):
        if day.weekday() != 6 or sunday:
            for hour in hours:
                truck = datetime.combine(day, time(hour))
                if truck >= ready:
                    return truck + timedelta(minutes=rng.uniform(0, 20))
        day += timedelta(days=1)
    raise AssertionError("no truck within a week")


def deliver(rng: Random, shipped: datetime, carrier: str) -> datetime:
    hours = DELIVERY_HOURS[carrier] * (1.3 if shipped.weekday() >= 4 else 1.0)
    return shipped + timedelta(hours=hours * _noise(rng, 0.3))
