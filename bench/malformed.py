"""Malformed input a partner can send, drawn by hypothesis (raw payloads) and schemathesis (GraphQL
operations from schema.graphql), with a fixed seed so that a run can be repeated request for request.

Each request is what a confused, buggy or hostile partner sends with a valid credential: the answer may
be a refusal, never a 5xx, and the request must be in the traffic mirror either way.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemathesis.graphql
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from domain.db import REPO_ROOT

SUBMIT_ORDER = (
    "mutation Submit($input: OrderInput!) { submitOrder(input: $input) { order { id } userErrors { code } } }"
)
MAX_KEY = 200  # inbound_message.natural_key
GRAPHQL = "graphql"
PAYMENT = "payment"


@dataclass(frozen=True)
class Malformed:
    family: str  # deep-nesting, huge-int, wrong-type, nul-byte, long-string, long-idempotency-key, ...
    target: str  # GRAPHQL or PAYMENT
    body: bytes
    idempotency_key: str | None = None  # None: the bench's own per-request key


def _order(suffix: str) -> dict[str, Any]:
    """A valid order input, the base every mutation of a field starts from."""
    return {
        "channel": "TAOBAO",
        "channelOrderId": f"FZ-{suffix}",
        "currencyCode": "CNY",
        "placedAt": "2026-11-24T10:00:00+08:00",
        "status": "PENDING_PAYMENT",
        "lines": [{"sku": "SKU-1", "title": "tea", "quantity": 1, "unitPrice": "12.50"}],
        "buyer": {"phone": "+86 138 0013 8000"},
    }


def _graphql(variables_input: Any) -> bytes:
    return json.dumps({"query": SUBMIT_ORDER, "variables": {"input": variables_input}}).encode()


_SUFFIX = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=8, max_size=12)
_ORDER_STRING_FIELDS = [("channelOrderId",), ("channel",), ("currencyCode",), ("placedAt",), ("warehouseCode",),
                        ("lines", 0, "sku"), ("lines", 0, "title"), ("lines", 0, "unitPrice"), ("buyer", "phone"),
                        ("buyer", "platformBuyerId"), ("rawStatus",)]  # fmt: skip
_ORDER_FIELDS = [*_ORDER_STRING_FIELDS, ("lines",), ("lines", 0), ("lines", 0, "quantity"), ("buyer",), ("status",)]
_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _set(document: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    target: Any = document
    for step in path[:-1]:
        target = target.setdefault(step, {}) if isinstance(target, dict) else target[step]
    target[path[-1]] = value
    return document


@st.composite
def deep_nesting(draw: st.DrawFn) -> Malformed:
    depth = draw(st.integers(100, 100_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    inner = (opener * depth + ("1" if opener != "[" else "") + closer * depth).encode()
    where = draw(st.sampled_from(["variables", "body", "payment"]))
    if where == "variables":
        body = b'{"query": ' + json.dumps(SUBMIT_ORDER).encode() + b', "variables": {"input": ' + inner + b"}}"
    else:
        body = inner
    return Malformed("deep-nesting", PAYMENT if where == "payment" else GRAPHQL, body)


@st.composite
def huge_int(draw: st.DrawFn) -> Malformed:
    """Past 4,300 digits Python's int() refuses the text: json.loads raises ValueError, not JSONDecodeError."""
    digits = draw(st.sampled_from(["9" * 20, "9" * 400, "1" + "0" * 4400, "7" * 20_000]))
    sign = draw(st.sampled_from(["", "-"]))
    where = draw(st.sampled_from([("lines", 0, "quantity"), ("lines", 0, "unitPrice"), ("shippingAmount",),
                                  ("totalAmount",), ("payment", "amount"), ("payment", "transaction_id")]))  # fmt: skip
    if where[0] == "payment":
        notice = {"transaction_id": "T-huge", "kind": "payment", "amount": "1.00", "currency": "CNY"}
        notice[str(where[1])] = "__HUGE__"
        body = json.dumps(notice).replace('"__HUGE__"', sign + digits).encode()
        return Malformed("huge-int", PAYMENT, body)
    text = _graphql(_set(_order(draw(_SUFFIX)), where, "__HUGE__")).decode()
    return Malformed("huge-int", GRAPHQL, text.replace('"__HUGE__"', sign + digits).encode())


@st.composite
def wrong_type(draw: st.DrawFn) -> Malformed:
    shape = draw(st.sampled_from(["field", "document", "variables", "payment"]))
    value = draw(_ANY_JSON)
    if shape == "field":
        body = _graphql(_set(_order(draw(_SUFFIX)), draw(st.sampled_from(_ORDER_FIELDS)), value))
    elif shape == "document":
        body = json.dumps(value).encode()
    elif shape == "variables":
        body = json.dumps({"query": draw(st.sampled_from([SUBMIT_ORDER, value])), "variables": value}).encode()
    else:
        key = draw(st.sampled_from(["transaction_id", "kind", "amount", "currency", "status", "occurred_at"]))
        notice = {"transaction_id": "T-type", "kind": "payment", "amount": "1.00", "currency": "CNY", key: value}
        return Malformed("wrong-type", PAYMENT, json.dumps(notice).encode())
    return Malformed("wrong-type", GRAPHQL, body)


@st.composite
def nul_byte(draw: st.DrawFn) -> Malformed:
    text = draw(st.text(max_size=6)) + "\x00" + draw(st.text(max_size=6))
    if draw(st.booleans()):
        notice = {"transaction_id": f"T{text}", "kind": "payment", "amount": "1.00", "currency": "CNY",
                  "order_ref": text}  # fmt: skip
        return Malformed("nul-byte", PAYMENT, json.dumps(notice).encode())
    path = draw(st.sampled_from(_ORDER_STRING_FIELDS))
    order = _set(_order(draw(_SUFFIX)), path, (f"FZ-{text}" if path == ("channelOrderId",) else text))
    return Malformed("nul-byte", GRAPHQL, _graphql(order))


@st.composite
def long_string(draw: st.DrawFn) -> Malformed:
    """Over the column sizes (100 to 200 characters), and now and then over the 2 MB body limit."""
    length = draw(st.sampled_from([201, 1_000, 100_000])) if draw(st.integers(0, 9)) else 2_100_000
    text = (draw(st.text(min_size=1, max_size=3)) * length)[:length]
    path = draw(st.sampled_from([*_ORDER_STRING_FIELDS, ("payment", "transaction_id"), ("payment", "order_ref")]))
    if path[0] == "payment":
        notice = {"transaction_id": "T-long", "kind": "payment", "amount": "1.00", "currency": "CNY", path[1]: text}
        return Malformed("long-string", PAYMENT, json.dumps(notice).encode())
    return Malformed("long-string", GRAPHQL, _graphql(_set(_order(draw(_SUFFIX)), path, text)))


@st.composite
def long_idempotency_key(draw: st.DrawFn) -> Malformed:
    length = draw(st.integers(MAX_KEY + 1, 8_000))
    key = (draw(st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=8)) * length)[:length]
    return Malformed("long-idempotency-key", GRAPHQL, _graphql(_order(draw(_SUFFIX))), idempotency_key=key)


@st.composite
def not_json(draw: st.DrawFn) -> Malformed:
    """Invalid UTF-8, truncated JSON, an empty body, a form body sent as JSON."""
    body = draw(st.one_of(st.binary(max_size=64), st.sampled_from([b"", b'{"query": "{', b"query=%7B", b"\xff\xfe{}"])))
    return Malformed("not-json", draw(st.sampled_from([GRAPHQL, PAYMENT])), body)


RAW_FAMILIES: list[Callable[[], st.SearchStrategy[Malformed]]] = [
    deep_nesting, huge_int, wrong_type, nul_byte, long_string, long_idempotency_key, not_json,
]  # fmt: skip


def _registered_scalars() -> None:
    """Custom scalars get hostile text too: schemathesis knows only the built-in ones."""
    hostile = st.one_of(st.text(max_size=30), st.sampled_from(["9" * 5000, "1e999", "NaN", "-0", "2026-13-45T25:61"]))
    for name in ("DateTime", "Decimal", "JSON", "Upload"):
        schemathesis.graphql.scalar(name, hostile.map(nodes.String))


def schema_operations(path: Path = REPO_ROOT / "schema.graphql") -> st.SearchStrategy[Malformed]:
    """Every query and mutation of the published schema, with arguments schemathesis draws from their types."""
    _registered_scalars()
    schema = schemathesis.graphql.from_path(str(path))
    operations = [result.ok() for result in schema.get_all_operations()]

    def request(case: Any) -> Malformed:
        return Malformed(f"schema:{case.operation.label}", GRAPHQL, json.dumps({"query": case.body}).encode())

    return st.one_of([operation.as_strategy() for operation in operations]).map(request)


def draw_requests(count: int, seed_value: int, strategy: st.SearchStrategy[Malformed]) -> list[Malformed]:
    """`count` examples, generated only (no shrinking: nothing fails here), the same ones for a given seed."""
    drawn: list[Malformed] = []

    @seed(seed_value)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(strategy)
    def collect(example: Malformed) -> None:
        drawn.append(example)

    collect()
    return drawn[:count]


def malformed_requests(raw: int, schema: int, seed_value: int) -> list[Malformed]:
    """`raw` split evenly over the families, so that even a quick run sends every kind; then `schema` operations."""
    per_family = max(1, raw // len(RAW_FAMILIES))
    requests = [r for i, family in enumerate(RAW_FAMILIES) for r in draw_requests(per_family, seed_value + i, family())]
    if schema:
        requests += draw_requests(schema, seed_value, schema_operations())
    return requests
