"""The unified social credit code's check character (GB 32100-2015) and what an invoice request flags."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain.invoices import tax_id
from domain.invoices.request import InvoiceRequest

PUBLISHED = ["91350100M000100Y43", "91110000600037341L"]  # codes printed on real business licences


def test_published_codes_are_valid_however_typed() -> None:
    for code in PUBLISHED:
        assert tax_id.problem(code) is None
        assert tax_id.problem(" " + code.lower()[:6] + "-" + code.lower()[6:]) is None


@given(body=st.text(alphabet=tax_id.CHARSET, min_size=17, max_size=17), other=st.sampled_from(tax_id.CHARSET))
def test_every_body_has_one_check_character(body: str, other: str) -> None:
    right = tax_id.check_character(body)
    assert tax_id.problem(body + right) is None
    if other != right:
        assert tax_id.problem(body + other) == f"check character is {other}, the first 17 characters give {right}"


def test_wrong_length_and_letters_never_used_are_named() -> None:
    assert tax_id.problem("91350100M000100Y4") == "a unified social credit code has 18 characters, this one 17"
    assert tax_id.problem("91350100M000100I43") == "characters not used in a unified social credit code: I"


def test_a_request_is_flagged_for_what_keeps_it_from_being_issued() -> None:
    ok = InvoiceRequest("杭州明前茶业有限公司", PUBLISHED[0], email="tax@tea.example")
    assert ok.problem() is None
    assert InvoiceRequest("张三", address="上海市").problem() is None  # a person needs no tax id
    assert InvoiceRequest(" ", email="a@b.example").problem() == "no invoice title"
    assert InvoiceRequest("X", "91350100M000100Y44", email="a@b.example").problem() == (
        "tax id: check character is 4, the first 17 characters give 3"
    )
    assert InvoiceRequest("X").problem() == "neither an email nor a postal address to send the invoice to"
    key = b"k" * 32
    assert ok.fingerprint(key) == InvoiceRequest(" 杭州明前茶业有限公司", PUBLISHED[0].lower()).fingerprint(key)
    assert ok.fingerprint(key) != InvoiceRequest("杭州明前茶业有限公司", PUBLISHED[1]).fingerprint(key)
    assert InvoiceRequest.from_json(ok.as_json()) == ok
