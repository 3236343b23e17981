"""Phones key identities only when they are real, complete mobiles; the key is a keyed hash."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.identity.phones import PhoneRejected, masked_pattern, normalize_phone
from domain.identity.service import BuyerIdentity
from domain.identity.uid import IdentityKey, candidate_uids, derive_uid

E164 = "+8613812345678"

# Real mainland-China mobile prefixes (all eight-digit suffixes are valid mobiles for these).
MOBILE_PREFIXES = [
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151", "152",
    "153", "155", "156", "157", "158", "159", "166", "173", "175", "176", "177", "178", "180",
    "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199",
]  # fmt: skip

COUNTRY_PREFIXES = ["", "+86", "0086", "86", "86 ", "+86 ", "0086 ", "(+86)", "+86-", "(86)", "tel:+86"]
SEPARATORS = ["", " ", "-", ".", "\u00a0", "—", "\u200b"]
GROUPINGS = [(3, 4, 4), (3, 8), (7, 4), (11,)]

KEY = IdentityKey(1, b"k" * 32)
OTHER_KEY = IdentityKey(2, b"q" * 32)

slow_settings = settings(max_examples=200, deadline=None)
REJECTION_CODES = {
    "EMPTY",
    "MASKED",
    "MASKED_SHORT",
    "SEVERAL",
    "EXTENSION",
    "UNPARSEABLE",
    "INVALID",
    "POSSIBLE_ONLY",
    "NOT_MOBILE",
}


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+8613812345678",
        "+86 138 1234 5678",
        "0086 138-1234-5678",
        "86 13812345678",
        "(+86)138 1234 5678",
        "+86-138-1234-5678",
        "１３８１２３４５６７８",
        "＋８６　１３８　１２３４　５６７８",
        "  13812345678  ",
        "138-1234-5678",
        "8613812345678",
        "138.1234.5678",
        "(138)1234-5678",
        "tel:+86-138-1234-5678",
        "138\u200b1234\u00a05678",
        "(86)13812345678",
        "+86 013812345678",
        "138—1234—5678",
    ],
)
def test_formats_converge_on_e164(raw: str) -> None:
    assert normalize_phone(raw) == E164


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("138****5678", "MASKED"),
        ("138＊＊＊＊5678", "MASKED"),
        ("138xxxx5678", "MASKED"),
        ("138XXXX5678", "MASKED"),
        ("1381234567*", "MASKED"),
        ("13812345678-1234", "EXTENSION"),
        ("13812345678转1234", "EXTENSION"),
        ("13812345678 转 1234", "EXTENSION"),
        ("13812345678分机1234", "EXTENSION"),
        ("13812345678 ext 12", "EXTENSION"),
        ("13812345678#12", "EXTENSION"),
        ("13812345678－1234", "EXTENSION"),
        ("13812345678,1234", "EXTENSION"),
        ("010-62345678", "NOT_MOBILE"),
        ("021 6234 5678", "NOT_MOBILE"),
        ("+86 10 6234 5678", "NOT_MOBILE"),
        ("", "EMPTY"),
        ("   ", "EMPTY"),
        ("1381234", "POSSIBLE_ONLY"),
        ("138123456789", "POSSIBLE_ONLY"),
        ("12012345678", "POSSIBLE_ONLY"),
        ("1234", "INVALID"),
        ("138•••1234", "MASKED"),
        ("138…1234", "MASKED"),
        ("138____1234", "MASKED"),
        ("138????1234", "MASKED"),
        ("13812345678 1234", "EXTENSION"),
        ("138-1234-5678-1234", "EXTENSION"),
        ("13812345678_1234", "EXTENSION"),
        ("138 1234 5678（转1234）", "EXTENSION"),
        ("+86 138 1234 5678 ~ 88", "EXTENSION"),
        ("13812345678/13912345678", "SEVERAL"),
        ("13812345678, 13912345678", "SEVERAL"),
        ("138-CALL-5678", "UNPARSEABLE"),
        ("400-800-8888", "NOT_MOBILE"),
        ("+1 650 253 0000", "NOT_MOBILE"),
    ],
)
def test_rejections(raw: str, code: str) -> None:
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.code == code


@pytest.mark.parametrize("raw", ["hello", "not a phone", "电话"])
def test_text_is_not_a_phone(raw: str) -> None:
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.code in {"UNPARSEABLE", "INVALID"}


def test_none_is_empty() -> None:
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(None)  # type: ignore[arg-type]
    assert excinfo.value.code == "EMPTY"


@st.composite
def mobiles(draw: st.DrawFn) -> str:
    prefix = draw(st.sampled_from(MOBILE_PREFIXES))
    suffix = draw(st.text(alphabet="0123456789", min_size=8, max_size=8))
    return prefix + suffix


def _group(digits: str, sizes: tuple[int, ...]) -> list[str]:
    groups, start = [], 0
    for size in sizes:
        groups.append(digits[start : start + size])
        start += size
    return groups


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in text)


@st.composite
def rendered(draw: st.DrawFn, national: str) -> str:
    sep = draw(st.sampled_from(SEPARATORS))
    body = sep.join(_group(national, draw(st.sampled_from(GROUPINGS))))
    text = draw(st.sampled_from(COUNTRY_PREFIXES)) + body
    if draw(st.booleans()):
        text = _full_width(text)
    pad = draw(st.sampled_from(["", " ", "  "]))
    return pad + text + pad


@slow_settings
@given(data=st.data(), national=mobiles())
def test_any_rendering_of_a_mobile_normalizes_to_the_same_e164(data: st.DataObject, national: str) -> None:
    raw = data.draw(rendered(national))
    assert normalize_phone(raw) == "+86" + national
    assert normalize_phone(national) == "+86" + national


@slow_settings
@given(data=st.data(), national=mobiles())
def test_masking_four_middle_digits_is_always_refused(data: st.DataObject, national: str) -> None:
    middle = range(3, 10)  # never the prefix's first three nor the last digit
    positions = data.draw(st.sets(st.sampled_from(middle), min_size=4, max_size=4))
    star = data.draw(st.sampled_from(["*", "＊", "•", "…"]))
    masked = "".join(star if i in positions else c for i, c in enumerate(national))
    raw = data.draw(rendered(masked)) if data.draw(st.booleans()) else masked
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.code == "MASKED"


@slow_settings
@given(
    national=mobiles(),
    extension=st.text(alphabet="0123456789", min_size=1, max_size=6),
    mark=st.sampled_from(["-", "转", " 转 ", "#", " ext ", "分机", " ", "_", "~", "－", "（转"]),
)
def test_a_mobile_with_an_extension_is_always_refused(national: str, extension: str, mark: str) -> None:
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(national + mark + extension)
    assert excinfo.value.code == "EXTENSION"


@slow_settings
@given(raw=st.text(max_size=40))
def test_any_text_is_a_mobile_in_e164_or_a_reasoned_rejection(raw: str) -> None:
    """Never an exception other than PhoneRejected, and an accepted key is a fixed point."""
    try:
        e164 = normalize_phone(raw)
    except PhoneRejected as rejected:
        assert rejected.code in REJECTION_CODES
        assert rejected.reason
        return
    assert re.fullmatch(r"\+\d{8,15}", e164)
    assert normalize_phone(e164) == e164


@slow_settings
@given(national=mobiles(), position=st.integers(0, 10), letter=st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWYZ"))
def test_a_letter_anywhere_is_refused(national: str, position: int, letter: str) -> None:
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(national[:position] + letter + national[position + 1 :])
    assert excinfo.value.code in {"UNPARSEABLE", "EXTENSION"}  # a trailing X reads as an extension mark


@slow_settings
@given(
    area=st.sampled_from(["10", "21", "20", "755", "571", "28"]),
    local=st.text(alphabet="23456789", min_size=8, max_size=8),
    prefix=st.sampled_from(["0", "+86 ", "0086 ", "(0", "86-"]),
)
def test_landlines_never_key_an_identity(area: str, local: str, prefix: str) -> None:
    raw = f"{prefix}{area}{')' if prefix == '(0' else '-'}{local}"
    with pytest.raises(PhoneRejected) as excinfo:
        normalize_phone(raw)
    assert excinfo.value.code in {"NOT_MOBILE", "POSSIBLE_ONLY", "INVALID"}


@slow_settings
@given(data=st.data(), national=mobiles())
def test_a_full_number_and_its_masked_form_share_the_masked_pattern(data: st.DataObject, national: str) -> None:
    masked = national[:3] + data.draw(st.sampled_from(["****", "＊＊＊＊", "xxxx"])) + national[7:]
    assert (
        masked_pattern(masked) == masked_pattern(data.draw(rendered(national))) == national[:3] + "****" + national[7:]
    )


def test_masked_pattern_needs_enough_visible_digits() -> None:
    assert masked_pattern("1**********") is None
    assert masked_pattern("") is None
    assert masked_pattern("010-62345678") is None


def test_the_seeds_three_forms_of_one_buyers_phone_give_one_suggestion_key() -> None:
    identity = BuyerIdentity([KEY])
    keys = [identity.key_for_phone(raw) for raw in ("138****1234", "138-****-1234", "138******1234")]
    assert {masked_pattern(raw) for raw in ("138****1234", "138-****-1234", "138******1234")} == {"138****1234"}
    assert len({k.mask for k in keys}) == 1 and keys[0].mask is not None
    assert all(k.uid is None and k.problem == "MASKED" for k in keys)  # a suggestion, never a match
    assert identity.key_for_phone("139******1234").mask != keys[0].mask


MASK_CHARS = ["*", "x", "X", "×", "#", "•", "●", "＊", "ｘ", "Ｘ", "＃"]
MASK_SEPARATORS = ["", " ", "-", "\u00a0", "—", "－", "\u200b"]


@slow_settings
@given(
    national=mobiles(),
    star=st.sampled_from(MASK_CHARS),
    length=st.integers(1, 12),
    sep=st.sampled_from(MASK_SEPARATORS),
    country=st.sampled_from(COUNTRY_PREFIXES),
    full_width=st.booleans(),
)
def test_a_mask_of_any_length_and_separator_keys_like_the_full_number(
    national: str, star: str, length: int, sep: str, country: str, full_width: bool
) -> None:
    digits = (national[:3], national[7:])
    if full_width:
        digits = (_full_width(digits[0]), _full_width(digits[1]))
    raw = f"{country}{digits[0]}{sep}{star * length}{sep}{digits[1]}"
    assert masked_pattern(raw) == masked_pattern(national) == national[:3] + "****" + national[7:]
    key = BuyerIdentity([KEY]).key_for_phone(raw)
    assert key.uid is None and key.problem is not None
    assert key.mask == BuyerIdentity([KEY]).key_for_phone(national).mask


@slow_settings
@given(
    prefix=st.text(alphabet="0123456789", max_size=2),
    suffix=st.text(alphabet="0123456789", max_size=3),
    star=st.sampled_from(MASK_CHARS),
    length=st.integers(2, 12),
)
def test_fewer_than_seven_visible_digits_give_no_key_and_say_why(
    prefix: str, suffix: str, star: str, length: int
) -> None:
    raw = "1" + prefix + star * length + suffix
    assert masked_pattern(raw) is None
    key = BuyerIdentity([KEY]).key_for_phone(raw)
    assert (key.uid, key.mask, key.problem) == (None, None, "MASKED_SHORT")


# --- uid ---------------------------------------------------------------------------------------


def test_derive_uid_is_deterministic_hex() -> None:
    first = derive_uid(E164, KEY)
    assert first == derive_uid(E164, KEY)
    assert re.fullmatch(r"[0-9a-f]{64}", first.value)
    assert first.key_version == 1


def test_derive_uid_differs_across_phones_keys_and_versions() -> None:
    base = derive_uid(E164, KEY)
    assert derive_uid("+8613812345679", KEY).value != base.value
    other = derive_uid(E164, OTHER_KEY)
    assert other.value != base.value
    assert other.key_version == 2
    same_secret_new_version = derive_uid(E164, IdentityKey(7, KEY.secret))
    assert same_secret_new_version != base
    assert same_secret_new_version.key_version == 7


def test_derive_uid_is_keyed_not_a_plain_hash() -> None:
    import hashlib

    value = derive_uid(E164, KEY).value
    for text in (E164, E164[1:], E164[3:], f"uid:v1:{E164}"):
        assert hashlib.sha256(text.encode()).hexdigest() != value


def test_candidate_uids_follow_key_order() -> None:
    uids = candidate_uids(E164, [OTHER_KEY, KEY])
    assert uids == [derive_uid(E164, OTHER_KEY), derive_uid(E164, KEY)]


@settings(max_examples=200)
@given(national=mobiles(), secret=st.binary(min_size=16, max_size=64), version=st.integers(1, 1000))
def test_uid_never_contains_the_phone(national: str, secret: bytes, version: int) -> None:
    uid = derive_uid("+86" + national, IdentityKey(version, secret))
    assert len(uid.value) == 64
    assert national not in uid.value
    assert national[3:] not in uid.value  # not even the eight-digit subscriber part
    assert uid.key_version == version


def test_buyer_identity_keys_good_phones_with_the_current_key() -> None:
    identity = BuyerIdentity([KEY, OTHER_KEY])
    expected = derive_uid(E164, KEY)
    for raw in ("13812345678", "+86 138 1234 5678", "１３８１２３４５６７８"):
        key = identity.key_for_phone(raw)
        assert key.uid == expected.value
        assert key.key_version == 1
        assert key.problem is None


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (None, "EMPTY"),
        ("", "EMPTY"),
        ("   ", "EMPTY"),
        ("138****5678", "MASKED"),
        ("13812345678-1234", "EXTENSION"),
        ("13812345678转1234", "EXTENSION"),
        ("010-62345678", "NOT_MOBILE"),
        ("1381234", "POSSIBLE_ONLY"),
    ],
)
def test_buyer_identity_reports_rejections_without_a_uid(raw: str | None, code: str) -> None:
    key = BuyerIdentity([KEY]).key_for_phone(raw)
    assert key.problem == code
    assert key.uid is None
    assert key.key_version is None


def test_buyer_identity_needs_a_key() -> None:
    with pytest.raises(ValueError):
        BuyerIdentity([])
