"""What the console's pages need on top of `bench.health`'s load before their main actions mean anything.

`bench.health` loads a day of orders, events, vouchers, one statement and exceptions. Staff on the console also
look orders up by a parcel's tracking number, reverse a payment from a reconciliation run's to-check list, decide
masked-phone match suggestions and check cleaning rules against the channel messages recorded lately: the rows
those read are added here, in SQL like the rest of the load, except the channel messages, which go through the
API as a bridge pushes them (their bodies are sealed by the app's vault). Nothing here enters the Health page's
day: the duplicate payments and their statement fall on the next merchant day, and duplicate notifications are
not among the voucher metric's unmatched items anyway.
"""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx

from bench.health import DAY
from domain.access.service import issue_partner_key
from domain.clock import utcnow
from domain.pull.channels import pull_api_of
from runtime.process import Runtime
from sim.channel_servers import douyin_order

TRACKING = "'SF' || (1400000000000 + id)"
"""An SF Express waybill number per shipped order, as SQL over `orders.id`."""
NEXT_DAY = DAY + timedelta(hours=16)
"""Midnight starting 11-25 on the merchant's clock (Shanghai): the Health page's day ends here."""
INTAKE_CHANNEL = "DOUYIN"
"""The channel the Intake page opens on."""
SUBMIT = """mutation($input: SubmitChannelOrderInput!) { submitChannelOrder(input: $input) {
  order { channelOrderId } userErrors { code message } } }"""


def tracking_number(order_id: int) -> str:
    return f"SF{1400000000000 + order_id}"


async def add_parcels(url: str) -> None:
    """Ship request, outbound and delivery times and a tracking number for the orders that got that far, spread
    by id over hours. Then the id sequence, so that orders arriving through the API get fresh ids."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"""UPDATE orders SET ship_requested_at = placed_at + interval '30 minutes',
                 shipped_at = placed_at + interval '30 minutes' + make_interval(mins => 60 + (id % 600)::int),
                 delivered_at = CASE WHEN status = 'DELIVERED' THEN placed_at + interval '30 minutes'
                   + make_interval(mins => 60 + (id % 600)::int) + make_interval(hours => 20 + (id % 30)::int) END,
                 tracking_number = {TRACKING}, carrier_code = 'SF'
               WHERE status IN ('SHIPPED', 'DELIVERED')"""
        )
        await conn.execute("SELECT setval(pg_get_serial_sequence('orders', 'id'), (SELECT max(id) FROM orders))")
        await conn.execute("ANALYZE orders")
    finally:
        await conn.close()


def duplicated(n: int, count: int) -> list[int]:
    """Shipped orders placed late in the day (after the merchant's midnight), each paid a second time."""
    return [n - 40 - 100 * k for k in range(count)]


async def add_to_check(url: str, n: int, count: int) -> None:
    """The next merchant day's statement, reconciled: its `count` lines matched, and `count` payments notified
    twice (a second transaction for an order already paid) on its to-check list, each with our voucher to
    reverse."""
    conn = await asyncpg.connect(url)
    try:
        ids = duplicated(n, count)
        await conn.execute(
            """INSERT INTO fund_voucher (provider, provider_txn_id, kind, order_ref, order_id, amount, currency,
                 status, raw, provider_time, received_at, repeats)
               SELECT 'lianlian', 'LLD' || o.id, 'PAYMENT', o.channel_order_id, o.id, o.total_amount, o.currency,
                      'CONFIRMED', '{}'::jsonb, o.placed_at + interval '20 minutes',
                      o.placed_at + interval '20 minutes 3 seconds', 0
               FROM orders o WHERE o.id = ANY($1::bigint[])""",
            ids,
        )  # fmt: skip
        run_id = await conn.fetchval(
            """INSERT INTO recon_run (provider, period_start, period_end, statement_lines, vouchers, matched, counts,
                 started_at, trigger)
               VALUES ('lianlian', $1::timestamptz, $1::timestamptz + interval '1 day', $2, 2 * $2, $2,
                       jsonb_build_object('DUPLICATE_NOTIFICATION', $2::int), now(), 'bench')
               RETURNING id""",
            NEXT_DAY, count,
        )  # fmt: skip
        statement_id = await conn.fetchval(
            """INSERT INTO statement (provider, format, filename, content_hash, period_start, period_end, line_count,
                 uploaded_by, received_at, run_id)
               VALUES ('lianlian', 'bank', 'bench-next-day.csv', md5(random()::text), $1::timestamptz,
                       $1::timestamptz + interval '1 day', $2, 'bench', now(), $3)
               RETURNING id""",
            NEXT_DAY, count, run_id,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO statement_line (statement_id, line_no, provider_txn_id, kind, order_ref, amount, currency,
                 occurred_at, order_id)
               SELECT $2, row_number() OVER (ORDER BY f.id), f.provider_txn_id, f.kind, f.order_ref, f.amount,
                      f.currency, f.provider_time, f.order_id
               FROM fund_voucher f WHERE f.provider = 'lianlian' AND f.kind = 'PAYMENT'
                 AND f.provider_txn_id = ANY(SELECT 'LL' || i FROM unnest($1::bigint[]) i)""",
            ids, statement_id,
        )  # fmt: skip
        await conn.execute(
            """INSERT INTO recon_item (run_id, drift, provider_txn_id, voucher_id, system_amount, currency)
               SELECT $1, 'DUPLICATE_NOTIFICATION', f.provider_txn_id, f.id, f.amount, f.currency
               FROM fund_voucher f WHERE f.provider = 'lianlian' AND f.kind = 'PAYMENT'
                 AND f.provider_txn_id = ANY(SELECT 'LLD' || i FROM unnest($2::bigint[]) i)
               ORDER BY f.id""",
            run_id, ids,
        )  # fmt: skip
    finally:
        await conn.close()


async def add_suggestions(url: str, n: int, count: int) -> None:
    """`count` unpaid orders whose masked phone matches a known buyer's pattern: suggestions waiting for a person.
    Each candidate buyer is the one of a shipped order placed earlier (its evidence)."""
    conn = await asyncpg.connect(url)
    try:
        pairs = [(100 * (k + 1) + 7, 100 * k + 60) for k in range(count)]
        assert pairs[-1][0] <= n, "too few orders for the suggestions"
        await conn.execute(
            """UPDATE orders SET buyer_uid = encode(sha256(('bench-buyer-' || id)::bytea), 'hex')
               WHERE id = ANY($1::bigint[])""",
            [evidence for _, evidence in pairs],
        )
        await conn.execute(
            """INSERT INTO match_suggestion (order_id, candidate_uid, evidence_order_id, status, created_at)
               SELECT p.masked, e.buyer_uid, e.id, 'PENDING', m.placed_at + interval '1 minute'
               FROM unnest($1::bigint[], $2::bigint[]) p(masked, evidence)
                 JOIN orders e ON e.id = p.evidence JOIN orders m ON m.id = p.masked""",
            [masked for masked, _ in pairs], [evidence for _, evidence in pairs],
        )  # fmt: skip
    finally:
        await conn.close()


async def add_channel_messages(rt: Runtime, base: str, count: int) -> None:
    """`count` Douyin orders pushed by a bridge through the API just now: the accepted samples a cleaning-rule
    check runs through, and the messages a replay of the last hours reads."""
    async with rt.core.sessions() as session, session.begin():
        key = await issue_partner_key(session, "bench-bridge", ["orders:write"], [INTAKE_CHANNEL])
    api = pull_api_of(INTAKE_CHANNEL)
    assert api is not None
    start = utcnow() - timedelta(hours=2)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers={"X-Api-Key": key.key}) as client:
        for number in range(count):
            body = api.payload(douyin_order(number, start + timedelta(minutes=number)), None).decode()
            variables = {"input": {"channel": INTAKE_CHANNEL, "payload": body}}
            answer = (await client.post("/graphql", json={"query": SUBMIT, "variables": variables})).json()
            if answer.get("errors") or answer["data"]["submitChannelOrder"]["userErrors"]:
                raise SystemExit(f"the bridge's push was refused: {answer}")
