"""The rules that keep metrics' labels few and log lines free of personal data and credentials."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from api.observe import new_request_id, request_id_of
from api.pubsub import ORDERS, Listener, Mailbox, PushHub
from domain.identity.masking import mask_phones
from domain.outbox.carry import carrying
from domain.outbox.service import Outbox
from domain.settings import Settings
from runtime import metrics
from runtime.logs import REDACTED, bound, configure_logging


@pytest.fixture
def fresh_operations() -> Iterator[set[str]]:
    saved = set(metrics._operations)
    metrics._operations.clear()
    yield metrics._operations
    metrics._operations.clear()
    metrics._operations.update(saved)


def test_operation_names_collapse_beyond_a_few_valid_ones(fresh_operations: set[str]) -> None:
    assert metrics.operation_label("Submit") == "Submit"
    assert metrics.operation_label(None) == metrics.ANONYMOUS
    assert metrics.operation_label("Submit", valid=False) == metrics.INVALID
    assert metrics.operation_label("drop table; --") == metrics.OTHER
    assert metrics.operation_label("x" * 65) == metrics.OTHER
    for i in range(metrics.MAX_OPERATIONS - 1):
        assert metrics.operation_label(f"Op{i}") == f"Op{i}"
    assert metrics.operation_label("OneTooMany") == metrics.OTHER
    assert metrics.operation_label("Submit") == "Submit"  # the ones seen keep their name


def test_sources_name_a_family_and_only_configured_senders() -> None:
    known = {"payments:wechatpay"}
    assert metrics.source_label("partner:erp", known) == "partner:erp"
    assert metrics.source_label("channel:DOUYIN", known) == "channel:DOUYIN"
    assert metrics.source_label("payments:wechatpay", known) == "payments:wechatpay"
    assert metrics.source_label("payments:made-up-13812345678", known) == "payments:unknown"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    configure_logging(Settings(log_level="INFO", structured_logs=True), stream)
    yield stream
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def test_a_log_line_is_json_without_phones_or_credentials(log_lines: io.StringIO) -> None:
    log = logging.getLogger("orderhub.test")
    with bound(request_id="req-1", job_id="outbox:12:1765000000000000"):
        log.info("buyer %s paid", "+86 138 1234 5678", extra={"api_key": "ohk_secret", "note": "call 13912345678"})
        try:
            raise ValueError("bad phone 13700001111")
        except ValueError:
            log.exception("failed")
    log.debug("not at INFO")
    paid, failed = (json.loads(line) for line in log_lines.getvalue().splitlines())
    assert paid["event"] == "buyer +86 138****5678 paid" and paid["level"] == "info"
    assert paid["logger"] == "orderhub.test" and paid["request_id"] == "req-1"
    assert paid["job_id"] == "outbox:12:1765000000000000"  # orderhub's own id, not a phone
    assert paid["api_key"] == REDACTED and paid["note"] == "call 139****5678"
    assert "13700001111" not in failed["exception"] and "137****1111" in failed["exception"]


def test_text_lines_when_structured_logs_are_off() -> None:
    root = logging.getLogger()
    handlers = list(root.handlers)
    stream = io.StringIO()
    configure_logging(Settings(log_level="WARNING", structured_logs=False), stream)
    try:
        logging.getLogger("orderhub.test").warning("buyer 13812345678")
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
    assert stream.getvalue().rstrip().endswith("orderhub.test: buyer 138****5678")


def test_the_log_level_is_a_setting_checked_at_start() -> None:
    assert Settings(log_level="debug").log_level == "DEBUG"
    with pytest.raises(ValidationError, match="ORDERHUB_LOG_LEVEL must be one of"):
        Settings(log_level="loud")


def test_request_ids_are_taken_only_when_plain() -> None:
    def scope(value: bytes) -> dict[str, object]:
        return {"headers": [(b"x-request-id", value)]}

    assert request_id_of(scope(b"shop-7f3a.2")) == "shop-7f3a.2"
    assert request_id_of(scope(b"13812345678")) is None
    assert request_id_of(scope(b"a\nfake log line")) is None
    assert request_id_of(scope(b"x" * 129)) is None
    assert request_id_of({"headers": []}) is None
    made = {new_request_id() for _ in range(200)}
    assert len(made) == 200 and all(mask_phones(i) == i for i in made)


def test_job_rows_carry_what_the_work_carries() -> None:
    outbox = Outbox()
    outbox.enqueue("check_payment_deadline", {"order_id": 1})
    with carrying({"request_id": "req-9", "traceparent": "00-abc-def-01"}):
        outbox.enqueue("check_payment_deadline", {"order_id": 2})
        outbox.publish("orders", {"order_id": 2})
    assert [row["carry"] for row in outbox.rows] == [
        None,
        {"request_id": "req-9", "traceparent": "00-abc-def-01"},
        None,
    ]
    assert all("_carry" not in row["payload"] for row in outbox.rows)


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_pushes_are_counted_sent_and_dropped() -> None:
    hub = PushHub("redis://127.0.0.1:1/0", queue_size=2)
    listener = Listener(ORDERS, Mailbox(2), buyer_uid="uid-a")
    subscribers = _sample("orderhub_websocket_subscribers")
    hub.register(listener)
    assert _sample("orderhub_websocket_subscribers") == subscribers + 1
    sent, dropped = (
        _sample("orderhub_pushes_total", outcome="sent"),
        _sample("orderhub_pushes_total", outcome="dropped"),
    )
    for version in (1, 2, 3):  # one order three times into a mailbox of two: the oldest is coalesced away
        hub.route(ORDERS, json.dumps({"order_id": 7, "version": version, "buyer_uid": "uid-a"}))
    hub.route(ORDERS, json.dumps({"order_id": 8, "version": 1, "buyer_uid": "uid-b"}))  # not this subscriber's
    assert _sample("orderhub_pushes_total", outcome="sent") == sent + 3
    assert _sample("orderhub_pushes_total", outcome="dropped") == dropped + 1
    hub.unregister(listener)
    assert _sample("orderhub_websocket_subscribers") == subscribers


def test_reconciliation_and_prediction_metrics() -> None:
    runs = _sample("orderhub_reconciliation_runs_total", trigger="cron")
    amounts = _sample("orderhub_reconciliation_differences_total", drift="AMOUNT_MISMATCH")
    metrics.count_reconciliation("cron", 1.5, [{"AMOUNT_MISMATCH": 2, "MISSING_IN_STATEMENT": 0}, {}])
    assert _sample("orderhub_reconciliation_runs_total", trigger="cron") == runs + 2
    assert _sample("orderhub_reconciliation_differences_total", drift="AMOUNT_MISMATCH") == amounts + 2
    predictions = _sample("orderhub_prediction_seconds_count")
    metrics.observe_prediction(0.002, 3)
    metrics.observe_prediction(0.001, None, answered=False)
    assert _sample("orderhub_prediction_seconds_count") == predictions + 2
    assert _sample("orderhub_model_served", version="3") == 1
    metrics.observe_prediction(0.002, None)
    assert _sample("orderhub_model_served", version="baseline") == 1 and not _sample(
        "orderhub_model_served", version="3"
    )
