"""What a provider answered when orderhub asked it about a payment, read before anything is posted."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.ledger.service import PaymentNotice


class QueryOutcome(StrEnum):
    """Every way a payment query can end; each is recorded on the query (`PaymentQuery.outcome`)."""

    POSTED = "POSTED"  # the provider says it was paid, and the voucher is new: the gap is closed
    DUPLICATE = "DUPLICATE"  # a notification posted it meanwhile
    CONFLICT = "CONFLICT"  # the same transaction is known with another amount or status: an exception is open
    NOT_PAID = "NOT_PAID"  # NOTPAY, WAIT_BUYER_PAY, CLOSED: nothing to post yet
    NOT_FOUND = "NOT_FOUND"  # ORDER_NOT_EXIST, ACQ.TRADE_NOT_EXIST: the provider never saw the trade
    RATE_LIMITED = "RATE_LIMITED"  # 429 or the provider's frequency limit: asked again on a later round
    UNAVAILABLE = "UNAVAILABLE"  # a timeout, a refused connection or a 5xx: asked again on a later round
    BAD_SIGNATURE = "BAD_SIGNATURE"  # an answer that does not verify with the provider's public key
    MALFORMED = "MALFORMED"  # an HTML error page, a truncated body, a field missing
    REFUSED = "REFUSED"  # a signed answer the ledger refuses (another merchant's money) or an error code of ours
    NOT_CONFIGURED = "NOT_CONFIGURED"  # no merchant key for the provider: nothing was asked


RETRYABLE = frozenset({QueryOutcome.RATE_LIMITED, QueryOutcome.UNAVAILABLE})
"""Outcomes that say nothing about the payment: the gap stays open and is asked about again."""


@dataclass(frozen=True)
class Reading:
    """`notice` is set only for an answer that says money moved."""

    outcome: QueryOutcome
    reason: str
    notice: PaymentNotice | None = None


def http_failure(status: int, detail: str) -> Reading | None:
    """The reading of an HTTP status that carries no answer about the payment, or None for one that may."""
    if status == 429:
        return Reading(QueryOutcome.RATE_LIMITED, f"HTTP 429 rate limited: {detail}"[:300])
    if status >= 500:
        return Reading(QueryOutcome.UNAVAILABLE, f"HTTP {status}: {detail}"[:300])
    return None
