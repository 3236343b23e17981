"""Partners as they behave in the wild: every submission carries an Idempotency-Key and is retried until
the API acknowledges it; a payment provider sends each notification twice; a careless partner sends junk.

Every attempt carries its own X-Request-Id, so each answered request can be looked up in the traffic
mirror afterwards (by its Idempotency-Key, or by that id in the kept headers).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any, TypeVar

import httpx

from bench.malformed import GRAPHQL, SUBMIT_ORDER, Malformed
from domain.ledger.providers.generic import SIGNATURE_HEADER, sign
from sim.day import PENDING_PAYMENT, SimOrder
from sim.money import decimal_text

T = TypeVar("T")

PROVIDER = "fakepay"
RETRY_PAUSE_S = 0.2
MALFORMED_TRIES = 3


@dataclass(frozen=True)
class Answer:
    """One HTTP answer the API gave: the request is owed a row in the traffic mirror."""

    request_id: str
    idempotency_key: str | None
    what: str  # order, payment, malformed:<family>
    status: int


@dataclass
class Observed:
    """What the partners saw; the database is counted against it afterwards."""

    answers: list[Answer] = field(default_factory=list)
    acknowledged_orders: set[tuple[str, str]] = field(default_factory=set)
    acknowledged_payments: set[str] = field(default_factory=set)  # transaction ids the API answered SUCCESS to
    no_answer: Counter[str] = field(default_factory=Counter)  # attempts that got no HTTP answer, by what
    traffic_5xx: list[tuple[str, int, str]] = field(default_factory=list)  # valid traffic, during faults
    refused: list[tuple[str, str]] = field(default_factory=list)  # valid traffic answered with an error
    malformed_5xx: list[tuple[str, str, int, str]] = field(default_factory=list)  # family, request id, status, body
    unfinished: list[str] = field(default_factory=list)  # gave up at the deadline

    def answered(self, request_id: str, key: str | None, what: str, response: httpx.Response) -> None:
        self.answers.append(Answer(request_id, key, what, response.status_code))


class Partner:
    def __init__(self, client: httpx.AsyncClient, api_key: str, webhook_secret: bytes, observed: Observed) -> None:
        self.client = client
        self.api_key = api_key
        self.secret = webhook_secret
        self.observed = observed
        self._ids = count(1)

    def _request_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response | None:
        try:
            return await self.client.post(path, content=body, headers=headers)
        except httpx.TransportError:
            return None

    async def submit(self, order: SimOrder, deadline: float) -> bool:
        """Until 2xx with the order in the answer: the only answer a partner can trust."""
        key = f"order:{order.channel}:{order.channel_order_id}"
        body = json.dumps({"query": SUBMIT_ORDER, "variables": {"input": order.as_input(PENDING_PAYMENT)}}).encode()
        while time.monotonic() < deadline:
            request_id = self._request_id("order")
            headers = {"X-Api-Key": self.api_key, "Idempotency-Key": key, "X-Request-Id": request_id,
                       "Content-Type": "application/json"}  # fmt: skip
            response = await self._post("/graphql", body, headers)
            if response is None:
                self.observed.no_answer["order"] += 1
            else:
                self.observed.answered(request_id, key, "order", response)
                if _order_acknowledged(response):
                    self.observed.acknowledged_orders.add((order.channel, order.channel_order_id))
                    return True
                self._note_failure(request_id, response)
            await asyncio.sleep(RETRY_PAUSE_S)
        self.observed.unfinished.append(key)
        return False

    async def notify_payment(self, order: SimOrder, deadline: float) -> None:
        """The provider sends the same signed notification twice, each until it gets its SUCCESS."""
        txn = f"FP-{order.channel_order_id}"
        notice = {"transaction_id": txn, "kind": "payment", "order_ref": order.channel_order_id,
                  "amount": decimal_text(order.total_amount), "currency": order.currency, "status": "confirmed",
                  "occurred_at": datetime.now(UTC).isoformat()}  # fmt: skip
        body = json.dumps(notice).encode()
        for _ in range(2):
            if not await self._notify_until_success(body, deadline):
                self.observed.unfinished.append(f"payment:{txn}")
                return
            self.observed.acknowledged_payments.add(txn)

    async def _notify_until_success(self, body: bytes, deadline: float) -> bool:
        while time.monotonic() < deadline:
            request_id = self._request_id("pay")
            headers = {SIGNATURE_HEADER: sign(self.secret, body), "X-Request-Id": request_id,
                       "Content-Type": "application/json"}  # fmt: skip
            response = await self._post(f"/payments/{PROVIDER}/notify", body, headers)
            if response is None:
                self.observed.no_answer["payment"] += 1
            else:
                self.observed.answered(request_id, None, "payment", response)
                if response.is_success and _json(response).get("code") == "SUCCESS":
                    return True
                self._note_failure(request_id, response)
            await asyncio.sleep(RETRY_PAUSE_S)
        return False

    def _note_failure(self, request_id: str, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.observed.traffic_5xx.append((request_id, response.status_code, response.text[:200]))
        else:
            self.observed.refused.append((request_id, f"{response.status_code} {response.text[:300]}"))

    async def send_malformed(self, request: Malformed) -> None:
        """Sent once; again only if no answer came back (the bench's malformed phase runs without faults)."""
        request_id = self._request_id(f"junk-{request.family.split(':')[0]}")
        key = request.idempotency_key or request_id
        headers = {"X-Request-Id": request_id, "Content-Type": "application/json"}
        if request.target == GRAPHQL:
            path = "/graphql"
            headers |= {"X-Api-Key": self.api_key, "Idempotency-Key": key}
        else:
            path = f"/payments/{PROVIDER}/notify"
            headers[SIGNATURE_HEADER] = sign(self.secret, request.body)
        for _ in range(MALFORMED_TRIES):
            response = await self._post(path, request.body, headers)
            if response is None:
                self.observed.no_answer[f"malformed:{request.family}"] += 1
                await asyncio.sleep(RETRY_PAUSE_S)
                continue
            what = f"malformed:{request.family}"
            self.observed.answered(request_id, key if request.target == GRAPHQL else None, what, response)
            if response.status_code >= 500:
                sent = repr(request.body[:60]) + (f" ({len(request.body)} bytes)" if len(request.body) > 60 else "")
                if request.idempotency_key:
                    sent += f" with an Idempotency-Key of {len(request.idempotency_key)} characters"
                self.observed.malformed_5xx.append((request.family, request_id, response.status_code, sent))
            return


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _order_acknowledged(response: httpx.Response) -> bool:
    if not response.is_success:
        return False
    document = _json(response)
    payload = (document.get("data") or {}).get("submitOrder") or {}
    return not document.get("errors") and not payload.get("userErrors") and bool((payload.get("order") or {}).get("id"))


async def drive(items: Sequence[T], concurrency: int, send: Callable[[T], Awaitable[Any]]) -> None:
    """`concurrency` independent clients pulling from one queue, as several partner bridges would."""
    pending = iter(items)

    async def client() -> None:
        for item in pending:
            await send(item)

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(client())
