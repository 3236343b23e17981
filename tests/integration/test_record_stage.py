"""The record stage at every edge: whatever a sender gets wrong is answered 4xx in its own protocol's
failure format, and leaves exactly one recorded message with an outcome and the true reason; no
plaintext phone number reaches the stored error or the logs. Real HTTP through the ASGI app, both
databases."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlmodel import col

from domain.intake.models import InboundMessage, Outcome
from domain.ledger.models import FundVoucher
from domain.ledger.providers.generic import sign
from domain.orders.models import Order
from domain.pipeline.record import KEY_REUSED, MAX_NATURAL_KEY, MAX_SOURCE
from sim.payment_providers import alipay_trade, wechat_transaction
from tests.conftest import Api, Credentials
from tests.fixtures.channels import order_object, payload
from tests.integration import test_payments
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input
from tests.integration.test_channel_intake import ALERTS, PIN, submit
from tests.integration.test_payments import GENERIC_SECRET, ORDER_NO, Providers
from tests.integration.test_replay import REPLAY

pay, platforms = test_payments.pay, test_payments.platforms  # the providers' keys and orderhub configured for them

PHONE = "13812345678"
GENERIC = "/payments/lianlian/notify"
WECHAT = "/payments/wechatpay/notify"
ALIPAY = "/payments/alipay/notify"
DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b"1" * 5000


async def messages(api: Api) -> list[InboundMessage]:
    async with api.runtime.core.sessions() as session:
        return list((await session.exec(select(InboundMessage).order_by(col(InboundMessage.id)))).scalars())


async def only_message(api: Api) -> InboundMessage:
    [message] = await messages(api)
    assert message.outcome != Outcome.PENDING
    return message


def payment(**overrides: Any) -> dict[str, Any]:
    base = {"transaction_id": "LL-1", "kind": "payment", "order_ref": ORDER_NO, "amount": "95.90",
            "currency": "CNY", "status": "confirmed", "occurred_at": "2026-11-24T20:15:40+08:00"}  # fmt: skip
    return base | overrides


async def post_generic(api: Api, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Orderhub-Signature": sign(GENERIC_SECRET.encode(), body)}
    return await api.client.post(GENERIC, content=body, headers=headers)


@pytest.fixture
def small_bodies(pay: Api) -> Api:
    """A 4 KiB cap, so that "too large" needs no megabytes in a test."""
    core = pay.runtime.core
    core.settings = core.settings.model_copy(update={"max_body_bytes": 4096})
    return pay


# --- item 4: what the database would refuse is the sender's error ------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"transaction_id": "L" * 150}, "transaction id of 150 characters exceeds 100"),
        ({"transaction_id": "LL\x00-1"}, "transaction id contains a NUL character"),
        ({"note": "gift\x00wrap"}, "a field contains a NUL character"),
        ({"transaction_id": {"id": "LL-1"}}, "field transaction_id must be a string, got dict"),
        ({"order_ref": ["4102938475610293847"]}, "field order_ref must be a string, got list"),
        ({"amount": "99999999999999999999.00"}, "is not an integer within 64 bits"),
        ({"currency": {"code": "CNY"}}, "field currency must be a string, got dict"),
    ],
)
async def test_generic_notification_the_ledger_cannot_hold_is_a_400(
    pay: Api, overrides: dict[str, Any], reason: str
) -> None:
    response = await post_generic(pay, json.dumps(payment(**overrides)).encode())
    assert response.status_code == 400
    assert response.json()["code"] == "FAIL" and reason in response.json()["message"]
    message = await only_message(pay)
    assert message.outcome == Outcome.REJECTED and message.error is not None and reason in message.error
    assert "\x00" not in message.error
    async with pay.runtime.core.sessions() as session:
        assert (await session.execute(select(func.count()).select_from(FundVoucher))).scalar_one() == 0


@pytest.mark.parametrize(("body", "reason"), [(DEEP, "nested too deeply"), (HUGE_INT, "malformed notification")])
async def test_generic_json_python_cannot_hold_is_a_400(pay: Api, body: bytes, reason: str) -> None:
    response = await post_generic(pay, body)
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    message = await only_message(pay)
    assert message.outcome == Outcome.REJECTED and reason in (message.error or "")


async def test_signed_wechat_notification_whose_resource_is_not_an_object(pay: Api, platforms: Providers) -> None:
    now = int(time.time())
    envelope = {"id": "n1", "event_type": "TRANSACTION.SUCCESS", "resource": "not an object"}
    body = json.dumps(envelope).encode()
    response = await pay.client.post(WECHAT, content=body, headers=platforms.wechat.sign(body, now))
    assert response.status_code == 400
    assert response.json() == {"code": "FAIL", "message": "resource must be an object, got str"}
    message = await only_message(pay)
    assert (message.signature, message.outcome) == ("VALID", Outcome.REJECTED)
    assert message.error == "resource must be an object, got str"


async def test_signed_wechat_amount_beyond_int64(pay: Api, platforms: Providers) -> None:
    resource = wechat_transaction(ORDER_NO, "4200000001", 10**30)
    headers, body = platforms.wechat.notification(resource, timestamp=int(time.time()))
    response = await pay.client.post(WECHAT, content=body, headers=headers)
    assert response.status_code == 400 and response.json()["code"] == "FAIL"
    assert "not an integer within 64 bits" in (await only_message(pay)).error  # type: ignore[operator]


async def test_signed_alipay_trade_number_too_long(pay: Api, platforms: Providers) -> None:
    body = platforms.alipay.notification(alipay_trade(ORDER_NO, "2026" * 40, "95.90"))
    response = await pay.client.post(
        ALIPAY, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 400 and response.text != "success"
    assert "transaction id of 160 characters exceeds 100" in response.text
    message = await only_message(pay)
    assert message.outcome == Outcome.REJECTED and "exceeds 100" in (message.error or "")


# --- item 5: recorded first, size-capped, with an outcome ----------------------------------------------


@pytest.mark.parametrize("url", [GENERIC, WECHAT, ALIPAY])
async def test_payment_body_over_the_cap_is_413_and_its_head_recorded(small_bodies: Api, url: str) -> None:
    body = b"x" * 100_000
    response = await small_bodies.client.post(url, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert "x" * 100 not in response.text  # the body is never echoed back
    if url != ALIPAY:
        assert response.json()["code"] == "FAIL"
    message = await only_message(small_bodies)
    assert (message.outcome, message.body_size) == (Outcome.REJECTED, 100_000)
    assert message.error == "body of 100000 bytes exceeds the limit of 4096"
    async with small_bodies.runtime.core.sessions() as session:
        from domain.intake.service import read_body

        assert await read_body(session, small_bodies.runtime.core.vault, message.id or 0) == b"x" * 4096


async def test_alipay_refusal_does_not_echo_the_body(pay: Api) -> None:
    body = b"a" * 3000  # no "=": not a form
    response = await pay.client.post(
        ALIPAY, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 401 and response.text.startswith("fail: ")
    assert len(response.text) < 400
    await only_message(pay)


async def test_provider_name_longer_than_its_column(pay: Api) -> None:
    name = "p" * 150
    response = await pay.client.post(f"/payments/{name}/notify", content=b"{}")
    assert response.status_code == 401 and response.json()["code"] == "FAIL"
    message = await only_message(pay)
    assert len(message.source) == MAX_SOURCE and message.source.startswith("payments:ppp")
    assert message.error == "no secret configured for this provider"


GRAPHQL_REFUSALS = [
    (DEEP, "JSON nested too deeply"),
    (b'{"query": "{ __typename }", "variables": {"n": ' + HUGE_INT + b"}}", "JSON not accepted: Exceeds the limit"),
    (b'{"query": "{ __typename }", "variables": [1, 2]}', "variables must be an object or null, got an array"),
    (b'{"variables": {}}', "the request has no query"),
    (b'[{"query": "{ __typename }"}]', "the request must be a JSON object, got an array"),
    (b'"{ __typename }"', "the request must be a JSON object, got a string"),
    (b'{"query": 42}', "query must be a string"),
]


@pytest.mark.parametrize(("body", "reason"), GRAPHQL_REFUSALS)
async def test_graphql_request_refused_before_any_resolver(
    api: Api, creds: Credentials, body: bytes, reason: str
) -> None:
    response = await api.client.post(
        "/graphql", content=body, headers={**creds.writer, "content-type": "application/json"}
    )
    assert response.status_code == 400
    assert reason in response.text
    message = await only_message(api)
    assert message.outcome == Outcome.REJECTED
    assert message.error is not None and message.error.startswith(reason)


@pytest.mark.parametrize(
    ("query", "reason"),
    [("mutation {", "Syntax Error"), ("{ noSuchField }", "Cannot query field 'noSuchField'")],
)
async def test_graphql_parse_and_validation_errors_close_the_message_at_once(
    api: Api, creds: Credentials, query: str, reason: str
) -> None:
    body = await api.gql(query, headers=creds.writer)
    assert reason in body["errors"][0]["message"]
    message = await only_message(api)
    assert message.outcome == Outcome.REJECTED and reason in (message.error or "")


async def test_graphql_body_over_the_cap_is_413(api: Api, creds: Credentials) -> None:
    core = api.runtime.core
    original = core.settings
    core.settings = original.model_copy(update={"max_body_bytes": 1000})
    try:
        request = {"query": SUBMIT_ORDER, "variables": {"input": order_input(title="t" * 5000)}}
        response = await api.client.post("/graphql", json=request, headers=creds.writer)
    finally:
        core.settings = original
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    message = await only_message(api)
    assert message.outcome == Outcome.REJECTED and message.body_size > 5000
    assert message.error == f"body of {message.body_size} bytes exceeds the limit of 1000"


async def test_long_idempotency_key_is_kept_as_a_digest_and_still_counts_repeats(api: Api, creds: Credentials) -> None:
    headers = {**creds.writer, "Idempotency-Key": "k" * 500}
    for _ in range(2):
        body = await api.gql(SUBMIT_ORDER, {"input": order_input()}, headers=headers)
        assert body["data"]["submitOrder"]["userErrors"] == []
    message = await only_message(api)
    assert message.outcome == Outcome.APPLIED and message.repeats == 1
    assert message.natural_key is not None and len(message.natural_key) == MAX_NATURAL_KEY


async def test_idempotency_key_reused_with_another_body_is_kept_apart_and_not_applied(
    api: Api, creds: Credentials
) -> None:
    headers = {**creds.writer, "Idempotency-Key": "bridge-batch-0002"}
    first = await api.gql(SUBMIT_ORDER, {"input": order_input("A-1")}, headers=headers)
    assert first["data"]["submitOrder"]["userErrors"] == []
    request = {"query": SUBMIT_ORDER, "variables": {"input": order_input("A-2")}}
    response = await api.client.post("/graphql", json=request, headers=headers)
    assert response.status_code == 422 and KEY_REUSED in response.text
    applied, refused = await messages(api)
    assert (applied.outcome, applied.natural_key) == (Outcome.APPLIED, "bridge-batch-0002")
    assert (refused.outcome, refused.error, refused.natural_key) == (Outcome.REJECTED, KEY_REUSED, None)
    assert refused.headers["idempotency-key"] == "bridge-batch-0002"
    async with api.runtime.core.sessions() as session:
        assert (await session.exec(select(Order.channel_order_id))).scalars().all() == ["A-1"]


async def test_channel_payload_nested_too_deeply_is_rejected_with_its_reason(api: Api, creds: Credentials) -> None:
    mutation = (
        "mutation($i: SubmitChannelOrderInput!) { submitChannelOrder(input: $i) { userErrors { field code message } } }"
    )
    payload = "[" * 5000 + "]" * 5000
    body = await api.gql(mutation, {"i": {"channel": "DOUYIN", "payload": payload}}, headers=creds.writer)
    [error] = body["data"]["submitChannelOrder"]["userErrors"]
    assert (error["code"], error["message"]) == ("NOT_JSON", "JSON nested too deeply")
    request, channel = await messages(api)
    assert (channel.source, channel.outcome) == ("DOUYIN", Outcome.REJECTED)
    assert "JSON nested too deeply" in (channel.error or "") and request.outcome == Outcome.REJECTED


# --- item 13: no plaintext phone in errors, stored or logged --------------------------------------------


async def test_phone_quoted_by_a_coercion_error_is_masked_everywhere(
    api: Api, creds: Credentials, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    variables = {"input": order_input(buyer={"phone": int(PHONE)})}
    body = await api.gql(SUBMIT_ORDER, variables, headers=creds.writer)
    answered = body["errors"][0]["message"]
    assert "138****5678" in answered and PHONE not in answered
    message = await only_message(api)
    assert message.outcome == Outcome.REJECTED and "138****5678" in (message.error or "")
    assert PHONE not in (message.error or "")
    assert "138****5678" in caplog.text and PHONE not in caplog.text


async def test_logged_tracebacks_are_masked(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    try:
        raise ValueError(f"buyer +86 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]} unknown")
    except ValueError:
        logging.getLogger("orderhub.test").exception("lookup of %s failed", PHONE)
    assert "+86 138****5678 unknown" in caplog.text and "lookup of 138****5678 failed" in caplog.text
    assert PHONE not in caplog.text and "1234 5678" not in caplog.text


# --- property: random bodies never give a 5xx and always leave one closed record -------------------------

_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.just("\x00"), max_size=20)
_scalar = st.none() | st.booleans() | st.integers(min_value=-(2**80), max_value=2**80) | st.floats() | _text
_json = st.recursive(
    _scalar, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4), max_leaves=12
)
_notice = st.fixed_dictionaries(
    {},
    optional={k: _json for k in ("transaction_id", "kind", "order_ref", "amount", "currency", "status", "occurred_at")},
)


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


_bodies = st.one_of(
    _json.map(_encode),
    _notice.map(_encode),
    st.sampled_from(
        [DEEP[:20_000] + DEEP[-20_000:], HUGE_INT, b'{"amount": ' + HUGE_INT + b"}", b"\x00{", b"\xff\xfe"]
    ),
    st.binary(max_size=64),
)


async def _count(api: Api) -> int:
    async with api.runtime.core.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(InboundMessage))).scalar_one())


_alipay_fields = st.dictionaries(
    st.sampled_from(["trade_no", "out_trade_no", "trade_status", "total_amount", "refund_fee", "gmt_payment", "memo"]),
    _text | st.sampled_from(["TRADE_SUCCESS", "95.90", "1" * 400, "2026-11-24 20:15:40"]),
)


@pytest.fixture
async def fuzzed(
    pay: Api, creds: Credentials, platforms: Providers
) -> AsyncIterator[tuple[Api, Credentials, Providers]]:
    yield pay, creds, platforms


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_bodies, target=st.sampled_from(["graphql", "graphql-variables", "generic", "wechat", "alipay"]),
       fields=_alipay_fields)  # fmt: skip
async def test_random_bodies_never_5xx_and_always_leave_one_closed_record(
    fuzzed: tuple[Api, Credentials, Providers], body: bytes, target: str, fields: dict[str, str]
) -> None:
    """Signed where the provider signs, so that the body reaches the parsers and the ledger."""
    api, creds, providers = fuzzed
    before = await _count(api)
    if target.startswith("graphql"):
        if target == "graphql-variables":  # a well-formed request whose input is the random value
            body = b'{"query": ' + _encode(SUBMIT_ORDER) + b', "variables": {"input": ' + body + b"}}"
        headers = {**creds.writer, "content-type": "application/json"}
        response = await api.client.post("/graphql", content=body, headers=headers)
    elif target == "wechat":
        response = await api.client.post(WECHAT, content=body, headers=providers.wechat.sign(body, int(time.time())))
    elif target == "alipay":
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        response = await api.client.post(ALIPAY, content=providers.alipay.notification(fields), headers=form)
    else:
        response = await post_generic(api, body)
    assert response.status_code < 500, response.text
    async with api.runtime.core.sessions() as session:
        newest = select(InboundMessage).order_by(col(InboundMessage.id).desc())
        rows = (await session.exec(newest)).scalars().all()
    assert len(rows) == before + 1
    assert rows[0].outcome != Outcome.PENDING, (rows[0].outcome, rows[0].error)


# --- a replay runs the stages live traffic runs, the drift watch included -------------------------------


async def test_replay_runs_the_drift_watch(api: Api, creds: Credentials) -> None:
    await submit(api, creds, "DOUYIN", payload("DOUYIN"))
    await api.gql(PIN, {"c": "DOUYIN"}, headers=creds.admin)
    drifted = payload("DOUYIN")
    order_object("DOUYIN", drifted).update(gift_note="no invoice")
    await submit(api, creds, "DOUYIN", drifted)

    async def gift_note_count() -> int:
        alerts = (await api.gql(ALERTS, headers=creds.cs))["data"]["driftAlerts"]["nodes"]
        [alert] = [a for a in alerts if a["path"].endswith("gift_note")]
        return int(alert["count"])

    assert await gift_note_count() == 1
    window = {"channel": "DOUYIN", "receivedFrom": "2000-01-01T00:00:00Z", "receivedTo": "2100-01-01T00:00:00Z"}
    await api.gql(REPLAY, {"input": window}, headers=creds.admin)
    assert await gift_note_count() == 1  # a dry run is never committed
    await api.gql(REPLAY, {"input": window | {"apply": True}}, headers=creds.admin)
    assert await gift_note_count() == 2


async def test_a_resolver_failure_is_closed_failed_with_its_cause(
    api: Api, creds: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fault of ours, not the sender's (here a failing service, as a bug or a lost database would be): the caller
    sees the masked error, the record keeps the true cause, with the phone it may quote masked."""
    from domain.orders.service import OrderService

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("lost the database while writing buyer 13812345678")

    monkeypatch.setattr(OrderService, "submit", broken)
    body = await api.gql(SUBMIT_ORDER, {"input": order_input("A-1")}, headers=creds.writer)
    assert body["errors"][0]["message"] == "Unexpected error."
    message = await only_message(api)
    assert message.outcome == Outcome.FAILED
    assert message.error is not None and message.error.startswith("RuntimeError: lost the database")
    assert "13812345678" not in message.error and "138****5678" in message.error


async def test_a_signature_check_that_fails_on_our_side_still_leaves_the_message_recorded(
    pay: Api, platforms: Providers, tmp_path: Path
) -> None:
    core = pay.runtime.core
    core.settings = core.settings.model_copy(update={"wechatpay_platform_public_key_path": tmp_path / "gone.pem"})
    headers, body = platforms.wechat.notification(wechat_transaction(ORDER_NO, "42", 100), timestamp=int(time.time()))
    with pytest.raises(FileNotFoundError):
        await pay.client.post(WECHAT, content=body, headers=headers)
    message = await only_message(pay)
    assert message.outcome == Outcome.FAILED and "gone.pem" in (message.error or "")


async def test_a_truncated_request_gives_its_idempotency_key_back(api: Api, creds: Credentials) -> None:
    headers = {**creds.writer, "Idempotency-Key": "bridge-batch-0003", "content-type": "application/json"}
    complete = json.dumps({"query": SUBMIT_ORDER, "variables": {"input": order_input("A-3")}}).encode()
    truncated = await api.client.post("/graphql", content=complete[:80], headers=headers)
    assert truncated.status_code == 400
    retried = await api.client.post("/graphql", content=complete, headers=headers)
    assert retried.status_code == 200 and retried.json()["data"]["submitOrder"]["userErrors"] == []
    refused, applied = await messages(api)
    assert (refused.outcome, refused.natural_key) == (Outcome.REJECTED, None)
    assert (applied.outcome, applied.natural_key) == (Outcome.APPLIED, "bridge-batch-0003")
