"""A channel's batch in one unit of work: every payload gets its own outcome, and one refused payload costs
the others nothing (domain/pipeline/channel.py)."""

from __future__ import annotations

import json

from sqlalchemy import select

from api.graphql.errors import summary
from domain.channels.models import ChannelIntake
from domain.channels.service import MAX_PAYLOAD_BYTES, record_payloads
from domain.intake.models import InboundMessage, Outcome
from domain.orders.models import Order, OrderEvent
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.pipeline.channel import ChannelMessage
from domain.pipeline.record import Refusal
from runtime.process import Runtime
from tests.fixtures.channels import order_object, payload


def amazon(order_id: str, status: str = "Unshipped") -> bytes:
    data = payload("AMAZON")
    order = order_object("AMAZON", data)
    order["AmazonOrderId"] = order_id
    order["OrderStatus"] = status
    return json.dumps(data).encode()


async def test_a_batch_gives_each_payload_its_own_outcome(rt: Runtime) -> None:
    core = rt.core
    bodies = [amazon("111-0000001-0000001"), b"not json", amazon("111-0000002-0000002"), amazon("111-0000003-0000003")]
    recorded = await record_payloads(core.sessions, core.vault, "AMAZON", bodies)
    assert [r.is_new for r in recorded] == [True] * 4
    everyone = frozenset({"AMAZON"})
    messages = [
        ChannelMessage(r.message_id, "AMAZON", body, Provenance(Source.CHANNEL, "partner:bulk", r.message_id, everyone))
        for r, body in zip(recorded, bodies, strict=True)
    ]
    # the third payload comes from a key serving another channel: the order service refuses it alone
    third = messages[2]
    messages[2] = ChannelMessage(
        third.message_id, "AMAZON", third.body, Provenance(Source.CHANNEL, "partner:x", third.message_id, frozenset())
    )
    async with core.sessions() as session, session.begin():
        handled = await core.channel_payloads(describe=lambda ps: f"worded: {summary(ps)}").process_batch(
            session, messages
        )

    assert [h.outcome for h in handled] == [Outcome.APPLIED, Outcome.REJECTED, Outcome.REJECTED, Outcome.APPLIED]
    assert handled[1].problems[0].code == "NOT_JSON"
    assert (handled[2].problems[0].field, handled[2].problems[0].code) == (("canonical", "channel"),
                                                                          "CHANNEL_NOT_ALLOWED")  # fmt: skip
    async with core.sessions() as session:
        stored = dict((await session.execute(select(InboundMessage.id, InboundMessage.outcome))).all())
        reason = await session.execute(select(InboundMessage.error).where(InboundMessage.id == third.message_id))
        orders = sorted((await session.execute(select(Order.channel_order_id))).scalars())
        intake = (await session.execute(select(ChannelIntake.inbound_message_id))).scalars().all()
        events = (await session.execute(select(OrderEvent.inbound_message_id))).scalars().all()
    assert [stored[m.message_id] for m in messages] == [h.outcome for h in handled]
    assert reason.scalar_one().startswith("worded: canonical.channel: this API key serves no channel")
    assert orders == ["111-0000001-0000001", "111-0000003-0000003"]
    assert sorted(intake) == sorted([messages[0].message_id, messages[3].message_id])
    assert set(events) == {messages[0].message_id, messages[3].message_id}  # each order names its own message


async def test_two_snapshots_of_one_order_in_a_batch_apply_in_arrival_order(rt: Runtime) -> None:
    core = rt.core
    bodies = [amazon("111-0000009-0000009", "Pending"), amazon("111-0000009-0000009", "Unshipped")]
    recorded = await record_payloads(core.sessions, core.vault, "AMAZON", bodies)
    messages = [
        ChannelMessage(r.message_id, "AMAZON", body, Provenance(Source.CHANNEL, "partner:bulk", r.message_id))
        for r, body in zip(recorded, bodies, strict=True)
    ]
    async with core.sessions() as session, session.begin():
        handled = await core.channel_payloads().process_batch(session, messages)
    assert [h.outcome for h in handled] == [Outcome.APPLIED, Outcome.APPLIED]
    assert handled[0].order_id == handled[1].order_id
    async with core.sessions() as session:
        order = (await session.execute(select(Order))).scalar_one()
        events = (await session.execute(select(OrderEvent.type, OrderEvent.inbound_message_id))).all()
    assert order.status == "PAID"  # created pending by the first snapshot, then paid by the second
    assert [tuple(e) for e in events] == [("ORDER_PLACED", messages[0].message_id),
                                          ("ORDER_PAID", messages[1].message_id)]  # fmt: skip


async def test_recording_a_batch_counts_repeats_and_refuses_a_body_too_large(rt: Runtime) -> None:
    core = rt.core
    [first] = await record_payloads(core.sessions, core.vault, "AMAZON", [amazon("111-0000001-0000001")])
    too_large = b"x" * (MAX_PAYLOAD_BYTES + 1)
    again, new, repeat, refused = await record_payloads(
        core.sessions,
        core.vault,
        "AMAZON",
        [amazon("111-0000001-0000001"), amazon("111-0000002-0000002"), amazon("111-0000002-0000002"), too_large],
    )
    assert (again.message_id, again.is_new) == (first.message_id, False)
    assert new.is_new and (repeat.message_id, repeat.is_new) == (new.message_id, False)
    assert refused.is_new and refused.refusal is Refusal.TOO_LARGE
    async with core.sessions() as session:
        rows = {r.id: r for r in (await session.execute(select(InboundMessage))).scalars()}
    assert (rows[first.message_id].repeats, rows[new.message_id].repeats) == (1, 1)
    assert rows[refused.message_id].outcome == Outcome.REJECTED and len(rows) == 3
