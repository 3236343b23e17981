"""Webhook rules without a database: which publications become which events, the body and id they are sent
with, their signatures as the Standard Webhooks library verifies them, the retry schedule and URL checks."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from api.graphql.ids import encode_gid
from domain.errors import Problems
from domain.webhooks.endpoints import Owner, check_url, parse_event_types
from domain.webhooks.errors import WebhookErrorCode
from domain.webhooks.events import WebhookEventType, events_of, node_id
from domain.webhooks.retry import RetryPolicy
from domain.webhooks.signing import new_secret, signed_headers

AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
T = WebhookEventType


def _order(event: str | None, status: str, version: int = 3) -> dict[str, object]:
    return {"order_id": 42, "version": version, "status": status, "event_type": event, "warehouse_code": "SH1",
            "predicted_next_at": None, "buyer_uid": "secret-uid"}  # fmt: skip


@pytest.mark.parametrize(
    ("event", "status", "expected"),
    [
        ("ORDER_PLACED", "PENDING_PAYMENT", [T.ORDER_STATUS_CHANGED]),
        ("ORDER_PACKED", "PACKED", [T.ORDER_STATUS_CHANGED, T.ORDER_PACKED]),
        ("ORDER_SHIPPED", "SHIPPED", [T.ORDER_STATUS_CHANGED, T.ORDER_SHIPPED]),
        ("ORDER_DELIVERED", "DELIVERED", [T.ORDER_STATUS_CHANGED, T.ORDER_DELIVERED]),
        ("FULFILMENT_EVIDENCE", "PICKED", []),  # a log entry that leaves the status as it was
        ("NEXT_STEP_PREDICTED", "PICKED", []),
    ],
)
def test_order_publications_become_the_events_they_stand_for(event: str, status: str, expected: list[T]) -> None:
    found = events_of("orders", _order(event, status), AT)
    assert [e.type for e in found] == expected
    for e in found:
        body = json.loads(e.body())
        assert body["type"] == e.type.value and body["timestamp"] == AT.isoformat()
        assert body["data"]["order"] == "gid://orderhub/Order/42" and body["data"]["status"] == status
        assert "secret-uid" not in e.body()  # the buyer's pseudonym is not a partner's business


def test_other_topics_become_exception_payment_and_reconciliation_events() -> None:
    opened = {"exception_id": 7, "order_id": 42, "kind": "SHIPPED_RULE", "state": "OPEN", "opened_at": AT.isoformat()}
    resolved = {**opened, "state": "RESOLVED"}
    payment = {"voucher_id": 9, "order_id": None, "provider": "wechatpay", "provider_txn_id": "W1", "amount": 9590,
               "currency": "CNY"}  # fmt: skip
    run = {"run_id": 3, "provider": "alipay", "statement_lines": 10, "matched": 9, "counts": {"MISSING_IN_SYSTEM": 1}}
    assert [e.type for e in events_of("exceptions", opened, AT)] == [T.EXCEPTION_OPENED]
    assert events_of("exceptions", resolved, AT) == []
    [posted] = events_of("payments", payment, AT)
    assert posted.data["amount"] == {"amount": "95.90", "currencyCode": "CNY"} and posted.data["order"] is None
    [finished] = events_of("reconciliation", run, AT)
    assert finished.type is T.RECONCILIATION_FINISHED and finished.data["run"] == "gid://orderhub/ReconRun/3"
    assert events_of("access", {"staff_user_id": 1}, AT) == []


def test_the_webhook_id_is_the_events_own_and_differs_between_events() -> None:
    first = events_of("orders", _order("ORDER_PACKED", "PACKED", 3), AT)
    again = events_of("orders", _order("ORDER_PACKED", "PACKED", 3), AT + timedelta(seconds=5))
    later = events_of("orders", _order("ORDER_SHIPPED", "SHIPPED", 4), AT)
    assert [e.message_id for e in first] == [e.message_id for e in again]
    ids = [e.message_id for e in first + later]
    assert len(set(ids)) == len(ids) and all(i.startswith("msg_") for i in ids)


def test_node_ids_are_spelled_as_the_graphql_api_spells_them() -> None:
    assert node_id("Order", 42) == encode_gid("Order", 42)


def test_signatures_verify_with_the_library_and_both_secrets_sign_during_an_overlap() -> None:
    new, old, stranger = new_secret(), new_secret(), new_secret()
    assert new.startswith("whsec_") and new != old
    now = datetime.now(UTC)
    body = events_of("orders", _order("ORDER_PACKED", "PACKED"), now)[0].body()
    headers = signed_headers([new, old], "msg_1", now, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Webhook(new).verify(body, headers)["type"] == "order.status_changed"
    assert Webhook(old).verify(body, headers)["type"] == "order.status_changed"
    with pytest.raises(WebhookVerificationError):
        Webhook(stranger).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(body.replace("PACKED", "SHIPPED"), headers)


POLICY = RetryPolicy(base_s=5, cap_s=3600, period=timedelta(hours=24), disable_after_failures=20,
                     disable_after=timedelta(hours=24))  # fmt: skip


def test_retries_back_off_exponentially_with_full_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    for attempts, ceiling in ((1, 5), (2, 10), (5, 80), (12, 3600), (30, 3600)):
        waits = [(POLICY.next_attempt(AT, AT, attempts, rng) - AT).total_seconds() for _ in range(300)]  # type: ignore[operator]
        assert min(waits) >= 1 and max(waits) <= ceiling
        assert max(waits) - min(waits) > ceiling / 3  # spread over the range, not a fixed step


def test_retries_stop_after_the_retry_period() -> None:
    late = AT + timedelta(hours=24) - timedelta(seconds=0.5)
    assert POLICY.next_attempt(AT, late, 3, random.Random(1)) is None
    assert POLICY.next_attempt(AT, AT + timedelta(hours=1), 3, random.Random(1)) is not None


def test_an_endpoint_is_disabled_only_after_failing_long_and_often() -> None:
    assert not POLICY.should_disable(10_000, AT, AT + timedelta(minutes=5))  # a burst in a short outage
    assert not POLICY.should_disable(3, AT, AT + timedelta(hours=30))
    assert POLICY.should_disable(20, AT, AT + timedelta(hours=24))
    assert not POLICY.should_disable(20, None, AT)


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("https://erp.example/hooks/orderhub", None),
        ("http://10.0.0.5:8080/in", None),
        ("ftp://erp.example/in", "must start with http:// or https://"),
        ("erp.example/in", "must start with http:// or https://"),
        ("https:///in", "has no host"),
        ("https://user:pw@erp.example/in", "must not carry a user name or password"),
        ("https://erp.example:99999/in", "not a URL"),
        ("https://erp.example/" + "a" * 2000, "longer than 2000 characters"),
    ],
)
def test_a_bad_url_is_refused_naming_the_field(url: str, fault: str | None) -> None:
    problems = Problems()
    check_url(problems, url)
    if fault is None:
        assert problems.items == []
    else:
        [problem] = problems.items
        assert problem.field == ("url",) and fault in str(problem.message)


def test_partners_subscribe_themselves_only_to_what_their_scopes_read() -> None:
    partner = Owner("partner:erp", 1, frozenset({"orders:read"}))
    wms = Owner("partner:wms", 2, frozenset({"wms:write"}))
    problems = Problems()
    assert parse_event_types(problems, ["order.shipped", "order.packed", "order.shipped"], partner) == [
        "order.packed", "order.shipped",
    ]  # fmt: skip
    assert problems.items == []
    for owner, names, code in (
        (partner, ["payment.posted"], WebhookErrorCode.EVENT_TYPE_NOT_ALLOWED),
        (wms, ["order.shipped"], WebhookErrorCode.EVENT_TYPE_NOT_ALLOWED),
        (partner, ["order.teleported"], WebhookErrorCode.UNKNOWN_EVENT_TYPE),
        (partner, [], WebhookErrorCode.NO_EVENT_TYPES),
    ):
        problems = Problems()
        parse_event_types(problems, names, owner)
        assert [p.code for p in problems.items] == [code]
    admin = Owner("staff:admin@shop.example")
    problems = Problems()
    assert parse_event_types(problems, ["reconciliation.finished"], admin) == ["reconciliation.finished"]
    assert problems.items == []
