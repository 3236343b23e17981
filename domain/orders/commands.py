"""What a partner submits for one order, and its validation into a canonical order.

Validation collects every problem with its field path, so a partner fixes a payload in one
round trip instead of one error at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlmodel import col

from domain.clock import utcnow
from domain.columns import check_text
from domain.errors import Problems
from domain.i18n import msg
from domain.identity.models import BuyerAlias, OrderIdentity
from domain.invoices.request import InvoiceRequest
from domain.money import MoneyError, check_currency, parse_minor
from domain.orders.channels import parse_channel
from domain.orders.errors import OrderErrorCode
from domain.orders.models import Order, OrderLine
from domain.orders.status import OrderStatus

Path = tuple[str | int, ...]

MAX_LINES = 100
SUBMITTABLE = frozenset({OrderStatus.PENDING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED})


@dataclass(frozen=True)
class LineSubmission:
    sku: str
    title: str
    quantity: int
    unit_price: str


@dataclass(frozen=True)
class OrderSubmission:
    channel: str
    channel_order_id: str
    status: str
    currency: str
    placed_at: datetime
    lines: list[LineSubmission]
    paid_at: datetime | None = None
    cancelled_at: datetime | None = None
    shipping_amount: str = "0"
    discount_amount: str = "0"
    total_amount: str | None = None
    buyer_phone: str | None = None
    platform_buyer_id: str | None = None
    warehouse_code: str | None = None
    shop_code: str | None = None  # the channel's id of the selling shop (seller_nick, shop_id)
    raw_status: str | None = None
    buyer_aliases: list[tuple[str, str]] = field(default_factory=list)  # identity: (kind, platform id)
    receiver_region: str | None = None  # identity: compared for masked-phone suggestions
    attribution: AttributionSubmission | None = None  # health: judged against the channel
    invoice: InvoiceRequest | None = None  # as the channel sent it; a wrong one is flagged, never refused


@dataclass(frozen=True)
class AttributionSubmission:
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    landing_url: str | None = None


@dataclass(frozen=True)
class Attribution:
    """As the channel sent it; utm_source lower-cased, and any utm_* missing taken from the landing URL's query."""

    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    landing_url: str | None = None


@dataclass(frozen=True)
class CanonicalLine:
    line_no: int
    sku: str
    title: str
    quantity: int
    unit_price: int
    amount: int


@dataclass(frozen=True)
class CanonicalOrder:
    channel: str
    channel_order_id: str
    status: OrderStatus
    currency: str
    placed_at: datetime
    paid_at: datetime | None
    cancelled_at: datetime | None
    lines: tuple[CanonicalLine, ...]
    items_amount: int
    shipping_amount: int
    discount_amount: int
    total_amount: int
    buyer_phone: str | None = field(default=None, repr=False)
    platform_buyer_id: str | None = None
    warehouse_code: str | None = None
    shop_code: str | None = None
    raw_status: str | None = None
    buyer_aliases: tuple[tuple[str, str], ...] = ()
    receiver_region: str | None = None
    attribution: Attribution = Attribution()
    invoice: InvoiceRequest | None = field(default=None, repr=False)

    def content(self) -> dict[str, object]:
        """What a later submission of the same order must agree with to be a mere repeat."""
        return {
            "currency": self.currency,
            "items": self.items_amount,
            "shipping": self.shipping_amount,
            "discount": self.discount_amount,
            "total": self.total_amount,
            "lines": [(x.sku, x.quantity, x.unit_price) for x in self.lines],
        }


def validate_submission(sub: OrderSubmission, at: Path, problems: Problems) -> CanonicalOrder | None:
    """Return the canonical order, or None after adding each problem found to `problems`."""
    start = len(problems.items)
    channel = parse_channel(sub.channel)
    if channel is None:
        problems.add(
            (*at, "channel"),
            msg("unknown channel {channel}", channel=repr(sub.channel)),
            OrderErrorCode.UNKNOWN_CHANNEL,
        )
    order_id = sub.channel_order_id.strip()
    if not order_id:
        problems.add((*at, "channel_order_id"), msg("channel order id is required"), OrderErrorCode.REQUIRED)
    _texts(sub, order_id, at, problems)
    status = _status(sub.status, (*at, "status"), problems)
    currency = _currency(sub.currency, (*at, "currency"), problems)
    placed_at, paid_at, cancelled_at = _times(sub, at, problems)
    if status is OrderStatus.PAID and sub.paid_at is None:
        problems.add((*at, "paid_at"), msg("a paid order needs its payment time"), OrderErrorCode.REQUIRED)
    if status is OrderStatus.CANCELLED and sub.cancelled_at is None:
        problems.add(
            (*at, "cancelled_at"), msg("a cancelled order needs its cancellation time"), OrderErrorCode.REQUIRED
        )
    lines = _lines(sub.lines, currency, (*at, "lines"), problems)
    shipping = _amount(sub.shipping_amount, currency, (*at, "shipping_amount"), problems)
    attribution = _attribution(sub.attribution, (*at, "attribution"), problems)
    discount = _amount(sub.discount_amount, currency, (*at, "discount_amount"), problems)
    if len(problems.items) > start:
        return None
    assert status and currency and placed_at and lines is not None and channel
    items = sum(line.amount for line in lines)
    total = items + (shipping or 0) - (discount or 0)
    if total < 0:
        problems.add(
            (*at, "discount_amount"), msg("the discount exceeds the order's amount"), OrderErrorCode.NEGATIVE_AMOUNT
        )
        return None
    if sub.total_amount is not None:
        claimed = _amount(sub.total_amount, currency, (*at, "total_amount"), problems)
        if claimed is not None and claimed != total:
            problems.add(
                (*at, "total_amount"),
                msg("total {total_amount} differs from lines + shipping - discount", total_amount=sub.total_amount),
                OrderErrorCode.AMOUNT_MISMATCH,
            )
            return None
        if claimed is None:
            return None
    return CanonicalOrder(
        channel=channel.value,
        channel_order_id=order_id,
        status=status,
        currency=currency,
        placed_at=placed_at,
        paid_at=paid_at,
        cancelled_at=cancelled_at,
        lines=tuple(lines),
        items_amount=items,
        shipping_amount=shipping or 0,
        discount_amount=discount or 0,
        total_amount=total,
        buyer_phone=(sub.buyer_phone or None),
        platform_buyer_id=(sub.platform_buyer_id or None),
        warehouse_code=(sub.warehouse_code or None),
        shop_code=(sub.shop_code or None),
        raw_status=sub.raw_status,
        buyer_aliases=tuple((kind, value.strip()) for kind, value in sub.buyer_aliases if value.strip()),
        receiver_region=(sub.receiver_region or "").strip() or None,
        attribution=attribution,
        invoice=sub.invoice,
    )


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
CLOCK_SKEW = timedelta(days=1)
"""An order's times lie between 2000 and a day after now (clocks of channels drift; a year-9999 time is a bug)."""


def _times(sub: OrderSubmission, at: Path, problems: Problems) -> tuple[datetime | None, ...]:
    """Payment and cancellation follow placement; none lies outside [EARLIEST, now + CLOCK_SKEW]."""
    latest = utcnow() + CLOCK_SKEW
    moments = []
    for name, given in (("placed_at", sub.placed_at), ("paid_at", sub.paid_at), ("cancelled_at", sub.cancelled_at)):
        moment = problems.aware_time(given, (*at, name))
        if moment is not None and not EARLIEST <= moment <= latest:
            problems.add(
                (*at, name),
                msg("must lie between {earliest} and a day from now", earliest=format(EARLIEST, "%Y-%m-%d")),
                OrderErrorCode.INVALID_TIME,
            )
            moment = None
        moments.append(moment)
    placed_at, paid_at, cancelled_at = moments
    for name, moment in (("paid_at", paid_at), ("cancelled_at", cancelled_at)):
        if placed_at is not None and moment is not None and moment < placed_at:
            problems.add((*at, name), msg("cannot precede placedAt"), OrderErrorCode.INVALID_TIME)
    return placed_at, paid_at, cancelled_at


def _texts(sub: OrderSubmission, order_id: str, at: Path, problems: Problems) -> None:
    """Free text is held to the columns that store it, so SQLite refuses what PostgreSQL would."""
    for name, value, column in (
        ("channel_order_id", order_id, col(Order.channel_order_id)),
        ("warehouse_code", sub.warehouse_code, col(Order.warehouse_code)),
        ("shop_code", sub.shop_code, col(Order.shop_code)),
        ("raw_status", sub.raw_status, col(Order.raw_status)),
        ("buyer.platform_buyer_id", sub.platform_buyer_id, col(Order.platform_buyer_id)),
        ("buyer.receiver_region", (sub.receiver_region or "").strip(), col(OrderIdentity.receiver_region)),
    ):
        check_text(problems, (*at, *name.split(".")), value, column)
    for index, (_, value) in enumerate(sub.buyer_aliases):
        check_text(problems, (*at, "buyer", "aliases", index, "value"), value.strip(), col(BuyerAlias.value))


_ATTRIBUTION_COLUMNS: dict[str, Any] = {"utm_source": col(Order.utm_source), "utm_medium": col(Order.utm_medium),
                        "utm_campaign": col(Order.utm_campaign), "landing_url": col(Order.landing_url)}  # fmt: skip


def _attribution(sub: AttributionSubmission | None, at: Path, problems: Problems) -> Attribution:
    if sub is None:
        return Attribution()
    given = {"utm_source": sub.utm_source, "utm_medium": sub.utm_medium, "utm_campaign": sub.utm_campaign,
             "landing_url": sub.landing_url}  # fmt: skip
    cleaned = {name: (value or "").strip() or None for name, value in given.items()}
    for name, value in cleaned.items():
        check_text(problems, (*at, name), value, _ATTRIBUTION_COLUMNS[name])
    query = parse_qs(urlsplit(cleaned["landing_url"] or "").query)
    for name in ("utm_source", "utm_medium", "utm_campaign"):  # the landing URL's own parameters fill the gaps
        if cleaned[name] is None and query.get(name):
            limit = _ATTRIBUTION_COLUMNS[name].type.length
            cleaned[name] = query[name][0].strip()[:limit] or None
    source = cleaned["utm_source"]
    return Attribution(
        utm_source=None if source is None else source.lower(),
        utm_medium=cleaned["utm_medium"],
        utm_campaign=cleaned["utm_campaign"],
        landing_url=cleaned["landing_url"],
    )


def _status(text: str, at: Path, problems: Problems) -> OrderStatus | None:
    try:
        status = OrderStatus(text)
    except ValueError:
        problems.add(at, msg("unknown status {text}", text=repr(text)), OrderErrorCode.INVALID_STATUS)
        return None
    if status not in SUBMITTABLE:
        problems.add(
            at, msg("a channel cannot submit status {status}", status=status), OrderErrorCode.STATUS_NOT_SUBMITTABLE
        )
        return None
    return status


def _currency(code: str, at: Path, problems: Problems) -> str | None:
    try:
        return check_currency(code)
    except MoneyError as exc:
        problems.add(at, exc.message, exc.code)
        return None


def _amount(text: str, currency: str | None, at: Path, problems: Problems) -> int | None:
    if currency is None:
        return None
    try:
        return parse_minor(text, currency)
    except MoneyError as exc:
        problems.add(at, exc.message, exc.code)
        return None


def _lines(
    lines: list[LineSubmission], currency: str | None, at: Path, problems: Problems
) -> list[CanonicalLine] | None:
    if not lines:
        problems.add(at, msg("an order needs at least one line"), OrderErrorCode.REQUIRED)
        return None
    if len(lines) > MAX_LINES:
        problems.add(at, msg("at most {max_lines} lines per order", max_lines=MAX_LINES), OrderErrorCode.TOO_MANY)
        return None
    result: list[CanonicalLine] = []
    for index, line in enumerate(lines):
        here = (*at, index)
        if not line.sku.strip():
            problems.add((*here, "sku"), msg("sku is required"), OrderErrorCode.REQUIRED)
        check_text(problems, (*here, "sku"), line.sku.strip(), col(OrderLine.sku))
        check_text(problems, (*here, "title"), line.title.strip(), col(OrderLine.title))
        if line.quantity <= 0:
            problems.add((*here, "quantity"), msg("quantity must be at least 1"), OrderErrorCode.INVALID_QUANTITY)
        price = _amount(line.unit_price, currency, (*here, "unit_price"), problems)
        if price is not None and line.quantity > 0:
            result.append(
                CanonicalLine(
                    index + 1, line.sku.strip(), line.title.strip(), line.quantity, price, price * line.quantity
                )
            )
    return result if len(result) == len(lines) else None
