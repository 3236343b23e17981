"""The handler of canonical order submissions (a partner's `submitOrder` / `submitOrders`).

Validate every order first, then apply all of them in one unit of work of the recorded message, which
writes its outcome too: record, orders and outcome commit together. The caller is answered with the
orders as the unit of work left them, without reading them again. Any problem refuses the whole batch,
and the refusal is the message's outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import Problem, Problems, UserError
from domain.i18n import msg
from domain.identity.service import BuyerIdentity
from domain.intake.vault import Vault
from domain.orders.commands import CanonicalOrder, OrderSubmission, validate_submission
from domain.orders.errors import OrderErrorCode
from domain.orders.models import Order
from domain.orders.service import OrderService, Provenance
from domain.outbox.service import Outbox
from domain.pipeline.message import Message

MAX_BATCH = 100


@dataclass(frozen=True)
class Submitted:
    """The orders as stored after the submission, in the order sent; or the problems, each with its path
    from `orders` (`("orders", 2, "currencyCode")`)."""

    orders: list[Order]
    problems: list[Problem]


class SubmitOrders:
    def __init__(self, identity: BuyerIdentity, payment_deadline_s: int, vault: Vault | None = None) -> None:
        self.identity = identity
        self.payment_deadline_s = payment_deadline_s
        self.vault = vault

    async def __call__(self, message: Message, submissions: Sequence[OrderSubmission], by: Provenance) -> Submitted:
        problems = Problems()
        canonical = validated(submissions, problems)
        try:
            problems.raise_if_any()
            async with message.work() as session:
                service = OrderService(session, self.identity, Outbox(), self.payment_deadline_s, self.vault)
                applied = await service.submit([o for o in canonical if o is not None], by)
                await message.applied_in(session)
        except UserError as error:
            relocated = [
                Problem(("orders", *p.field) if isinstance(p.field[0], int) else p.field, p.message, p.code)
                for p in error.problems
            ]
            await message.refuse(message.describe(relocated))
            return Submitted([], relocated)
        return Submitted([a.row for a in applied], [])


def validated(submissions: Sequence[OrderSubmission], problems: Problems) -> list[CanonicalOrder | None]:
    """At most MAX_BATCH orders, each valid, none twice in one batch."""
    if len(submissions) > MAX_BATCH:
        problems.add(
            ("orders",), msg("at most {max_batch} orders per request", max_batch=MAX_BATCH), OrderErrorCode.TOO_MANY
        )
    canonical = [validate_submission(s, ("orders", i), problems) for i, s in enumerate(submissions[:MAX_BATCH])]
    seen: dict[tuple[str, str], int] = {}
    for index, order in enumerate(canonical):
        if order is None:
            continue
        key = (order.channel, order.channel_order_id)
        if key in seen:
            problems.add(
                ("orders", index, "channel_order_id"),
                msg("same order as orders[{seen}]", seen=seen[key]),
                OrderErrorCode.DUPLICATE_IN_BATCH,
            )
        seen.setdefault(key, index)
    return canonical
