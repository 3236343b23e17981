"""Health rules without a database: the drift minimum, attribution parsing, windows, differing systems."""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.errors import Problems
from domain.health.customer_refs import differing_systems
from domain.health.metrics import FULFILMENT_STAGES
from domain.health.models import OrderCustomerRef
from domain.health.thresholds import Metric, is_healthy
from domain.health.windows import Period, resolve_window, window_of
from domain.orders.commands import AttributionSubmission, _attribution
from domain.orders.status import GRAPH, RULES, STAGE_BITS, OrderStatus, minimum_changes, shortest_path_length

S = OrderStatus
SHANGHAI = ZoneInfo("Asia/Shanghai")


def _through(start: OrderStatus, waypoints: list[OrderStatus], end: OrderStatus) -> int | None:
    """Brute force: the shortest walk from start to end visiting the waypoints in order."""
    total = 0
    stops = [start, *waypoints, end]
    for a, b in itertools.pairwise(stops):
        length = shortest_path_length(a, b)
        if length is None:
            return None
        total += length
    return total


def _rule_reachable(a: OrderStatus, b: OrderStatus) -> bool:
    """Along the transitions the rules really make (a subset of GRAPH)."""
    moves: dict[OrderStatus, set[OrderStatus]] = {}
    for rule in RULES:
        for source in rule.from_states:
            moves.setdefault(source, set()).add(rule.to_state)
    seen, queue = {a}, deque([a])
    while queue:
        for t in moves.get(queue.popleft(), set()):
            if t not in seen:
                seen.add(t)
                queue.append(t)
    return b in seen


def test_the_sql_minimum_equals_the_shortest_path_through_the_stages_entered() -> None:
    """metrics.DRIFT_TERMS counts sp(first, current) + each stage entered other than the current one. That
    holds for every walk the rules can make; a new rule that breaks it fails here."""
    for end in GRAPH:
        for k in range(len(FULFILMENT_STAGES) + 1):
            for entered in itertools.combinations(FULFILMENT_STAGES, k):
                stops = [S.PENDING_PAYMENT, *entered, end]
                if not all(_rule_reachable(a, b) for a, b in itertools.pairwise(stops)):
                    continue
                exact = _through(S.PENDING_PAYMENT, list(entered), end)
                assert exact is not None
                bits = sum(STAGE_BITS[stage] for stage in entered)
                assert minimum_changes(S.PENDING_PAYMENT, end, bits) == exact, (end, entered)
                base = shortest_path_length(S.PENDING_PAYMENT, end)
                assert base is not None
                assert exact == base + sum(1 for stage in entered if stage is not end), (end, entered)


def test_a_withdrawn_click_is_two_changes_beyond_the_minimum() -> None:
    flow = [S.PENDING_PAYMENT, S.PAID, S.SHIP_REQUESTED, S.PAID, S.SHIP_REQUESTED, S.PICKED, S.PACKED, S.SHIPPED]
    assert all(b in GRAPH[a] for a, b in itertools.pairwise(flow))
    minimum = _through(S.PENDING_PAYMENT, [S.PICKED, S.PACKED], S.SHIPPED)
    assert len(flow) - 1 - (minimum or 0) == 2


def test_attribution_is_lower_cased_and_read_from_the_landing_url() -> None:
    problems = Problems()
    got = _attribution(AttributionSubmission(landing_url="https://shop.example/p?utm_source=DouYin&utm_medium=live"),
                       ("attribution",), problems)  # fmt: skip
    assert not problems.items
    assert (got.utm_source, got.utm_medium, got.utm_campaign) == ("douyin", "live", None)
    _attribution(AttributionSubmission(utm_source="x" * 101), ("attribution",), problems)
    assert [(p.field, p.code) for p in problems.items] == [(("attribution", "utm_source"), "TOO_LONG")]


def test_windows_follow_the_merchant_clock_and_refuse_bad_ranges() -> None:
    day = window_of(Period.DAY, datetime(2026, 12, 3, 17, 0, tzinfo=UTC), SHANGHAI)
    assert (day.start, day.end) == (datetime(2026, 12, 3, 16, tzinfo=UTC), datetime(2026, 12, 4, 16, tzinfo=UTC))
    problems = Problems()
    a, b = datetime(2026, 12, 3, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert resolve_window(problems, SHANGHAI, 90, start=a, end=b) is None
    assert resolve_window(problems, SHANGHAI, 1, start=b, end=a) is None
    assert resolve_window(problems, SHANGHAI, 90, period="WEEK") is None
    assert [p.code for p in problems.items] == ["INVERTED_RANGE", "PERIOD_TOO_LONG", "UNKNOWN_PERIOD"]


def test_an_empty_period_has_no_verdict() -> None:
    assert is_healthy(Metric.STATUS_DRIFT, None, 0.012) is None
    assert is_healthy(Metric.STATUS_DRIFT, 0.011, 0.012) is True
    assert is_healthy(Metric.VOUCHER_MATCH, 0.9998, 0.9998) is False


@pytest.mark.parametrize(
    ("ids", "differs"),
    [
        ({"ERP": "C1", "CRM": "C1", "WMS": "C2"}, ["WMS"]),
        ({"ERP": "C1", "WMS": "C2"}, ["WMS"]),
        ({"CRM": "C9", "WMS": "C2"}, ["WMS"]),
        ({"ERP": "C1", "CRM": "C1"}, []),
    ],
)
def test_the_system_that_differs_is_named(ids: dict[str, str], differs: list[str]) -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)
    refs = [OrderCustomerRef(order_id=1, system=s, customer_id=c, reported_by="x", reported_at=now, updated_at=now)
            for s, c in ids.items()]  # fmt: skip
    assert differing_systems(refs) == differs


def test_bfs_helper_agrees_with_status_module() -> None:
    seen = {S.PENDING_PAYMENT: 0}
    queue = deque([S.PENDING_PAYMENT])
    while queue:
        s = queue.popleft()
        for t in GRAPH[s]:
            if t not in seen:
                seen[t] = seen[s] + 1
                queue.append(t)
    assert all(shortest_path_length(S.PENDING_PAYMENT, t) == n for t, n in seen.items())


def test_the_health_simulation_is_reproducible() -> None:
    from datetime import date, timedelta

    from sim.day import generate_day
    from sim.health import generate_health

    day = generate_day(3, date(2024, 11, 11), 120)
    cutoff = datetime(2024, 11, 11, tzinfo=SHANGHAI) + timedelta(days=3)
    first = generate_health(day, cutoff, limit=60)
    assert first == generate_health(day, cutoff, limit=60)
    assert first.truth["orders"] == 120
