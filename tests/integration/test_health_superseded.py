"""A superseded order (VOID) is the same sale as the order that replaced it: health counts the sale once, and the
drill-down lists only the order that stands."""

from __future__ import annotations

from datetime import timedelta

from domain.clock import utcnow
from domain.errors import Problems
from domain.health.drilldown import Scope, misattributed_orders
from domain.health.metrics import Metric, measure, measure_many
from domain.health.windows import Window
from domain.orders.commands import LineSubmission, OrderSubmission, validate_submission
from domain.orders.service import OrderService, Provenance
from domain.orders.status import Source
from domain.orders.supersede import supersede
from domain.outbox.service import Outbox
from runtime.process import Runtime


async def test_a_superseded_order_is_not_counted_twice(rt: Runtime) -> None:
    placed = utcnow()
    problems = Problems()
    line = [LineSubmission("SKU-1", "t", 1, "9.90")]
    submissions = [OrderSubmission("AMAZON", cid, "PENDING_PAYMENT", "CNY", placed, line)
                   for cid in ("114-1111111-1111111-ERR", "114-1111111-1111111")]  # fmt: skip
    canonical = [validate_submission(s, (), problems) for s in submissions]
    assert all(c is not None for c in canonical), problems.items
    by = Provenance(Source.CHANNEL, "partner:test")
    async with rt.core.sessions() as session, session.begin():
        outbox = Outbox()
        wrong, right = await OrderService(session, rt.core.identity, outbox, 1800).submit(
            [c for c in canonical if c is not None], by
        )
        replay = Provenance(Source.SYSTEM, "replay:test")
        assert await supersede(session, outbox, wrong.order_id, right.order_id, replay) is not None

    window = Window(placed - timedelta(minutes=1), placed + timedelta(minutes=1))
    async with rt.core.sessions() as session:
        alone = await measure(session, Metric.CHANNEL_ATTRIBUTION, window, utcnow())
        together = await measure_many(session, [Metric.STATUS_DRIFT, Metric.CHANNEL_ATTRIBUTION], window, utcnow())
        listed = await misattributed_orders(session, Scope(window), "", "", 10, None)
    assert [(c.numerator, c.denominator) for c in alone] == [(0, 1)]  # one sale, not attributed
    assert [c.denominator for c in together[Metric.STATUS_DRIFT]] == [1]
    assert [c.denominator for c in together[Metric.CHANNEL_ATTRIBUTION]] == [1]
    assert [order.id for order in listed.entries] == [right.order_id]
