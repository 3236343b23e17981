"""Phone-like digits are masked in error texts; dates and short numbers are left alone."""

from __future__ import annotations

import logging

import pytest

from domain.identity.masking import install_log_masking, mask_phones
from domain.pipeline.record import bounded, error_text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138****5678"),
        ("phone +86 138 1234 5678 refused", "phone +86 138****5678 refused"),
        ("+86-138-1234-5678", "+86-138****5678"),
        ("(+86)13812345678", "(+86)138****5678"),
        ("00861381234 5678", "0086138****5678"),
        ("value: １３８１２３４５６７８", "value: １３８****５６７８"),
        ("1234567", "****567"),
        ("order 4102938475610293847", "order 410************3847"),
        ("placed 2026-11-24T20:15:03+08:00", "placed 2026-11-24T20:15:03+08:00"),
        ("amount 9590 != 19590", "amount 9590 != 19590"),
        ("138****5678", "138****5678"),
    ],
)
def test_mask_phones(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


def test_stored_errors_are_masked_escaped_and_capped() -> None:
    stored = error_text("buyer 13812345678\x00" + "x" * 5000)
    assert stored is not None and stored.startswith("buyer 138****5678\\0x") and len(stored) == 2000


def test_long_keys_keep_a_prefix_and_a_digest() -> None:
    one, other = bounded("k" * 300 + "a", 200), bounded("k" * 300 + "b", 200)
    assert len(one) == len(other) == 200 and one != other and one.startswith("k" * 100)
    assert bounded("short", 200) == "short"


def test_log_records_are_masked_and_keep_their_arguments_when_they_can() -> None:
    install_log_masking()
    access = logging.getLogger("uvicorn.access").makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", "/q?p=13812345678", "1.1", 200),
        None,
    )
    assert access.args == ("1.2.3.4", "GET", "/q?p=138****5678", "1.1", 200)
    number = logging.getLogger("orderhub").makeRecord(
        "orderhub", logging.INFO, __file__, 1, "buyer %d", (13812345678,), None
    )
    assert (number.getMessage(), number.args) == ("buyer 138****5678", None)
    plain = logging.getLogger("orderhub").makeRecord("orderhub", logging.INFO, __file__, 1, "order %s", ("A-1",), None)
    assert plain.args == ("A-1",)
