"""Reading a channel payload field by field, so every shape problem names the exact path that is wrong."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems
from domain.i18n import msg
from domain.money import format_minor
from domain.orders.commands import AttributionSubmission

Path = tuple[str | int, ...]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SUFFIX_FIELD = "order_id_suffix"


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def obj(source: Mapping[str, Any], key: str, at: Path, problems: Problems) -> Mapping[str, Any]:
    value = source.get(key)
    if not isinstance(value, Mapping):
        problems.add((*at, key), msg("expected an object, got {kind}", kind=_kind(value)), IntakeErrorCode.WRONG_SHAPE)
        return {}
    return value


def array(source: Mapping[str, Any], key: str, at: Path, problems: Problems) -> list[Any]:
    value = source.get(key)
    if not isinstance(value, list):
        problems.add((*at, key), msg("expected a list, got {kind}", kind=_kind(value)), IntakeErrorCode.WRONG_SHAPE)
        return []
    if not value:
        problems.add((*at, key), msg("expected at least one entry"), IntakeErrorCode.WRONG_SHAPE)
    return value


def text(source: Mapping[str, Any], key: str, at: Path, problems: Problems, *, required: bool = True) -> str:
    """Strings, and integers that channels send interchangeably with them (ids, codes)."""
    value = source.get(key)
    if value is None and not required:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int) or (isinstance(value, str) and not value.strip()):
        problems.add(
            (*at, key), msg("expected a non-empty string, got {kind}", kind=_kind(value)), IntakeErrorCode.WRONG_SHAPE
        )
        return ""
    return str(value).strip()


def integer(source: Mapping[str, Any], key: str, at: Path, problems: Problems, *, required: bool = True) -> int:
    value = source.get(key)
    if value is None and not required:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        problems.add((*at, key), msg("expected an integer, got {kind}", kind=_kind(value)), IntakeErrorCode.WRONG_SHAPE)
        return 0
    return value


def fen(source: Mapping[str, Any], key: str, at: Path, problems: Problems, *, required: bool = True) -> str:
    """An amount in fen (integer minor units of CNY), as the decimal text canonical validation reads."""
    value = integer(source, key, at, problems, required=required)
    if value < 0:
        problems.add((*at, key), msg("amount is negative"), IntakeErrorCode.WRONG_SHAPE)
    return format_minor(value, "CNY")


def unix_time(source: Mapping[str, Any], key: str, at: Path, problems: Problems) -> datetime | None:
    value = source.get(key)
    if value in (None, 0):
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        problems.add(
            (*at, key), msg("expected unix seconds, got {kind}", kind=_kind(value)), IntakeErrorCode.WRONG_SHAPE
        )
        return None
    return datetime.fromtimestamp(value, UTC)


def shanghai_time(source: Mapping[str, Any], key: str, at: Path, problems: Problems) -> datetime | None:
    """Taobao's `yyyy-MM-dd HH:mm:ss`, which is Beijing time without saying so."""
    value = source.get(key)
    if value in (None, ""):
        return None
    try:
        return datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
    except ValueError:
        problems.add(
            (*at, key), msg("expected yyyy-MM-dd HH:mm:ss, got {value}", value=repr(value)), IntakeErrorCode.WRONG_SHAPE
        )
        return None


def iso_time(source: Mapping[str, Any], key: str, at: Path, problems: Problems) -> datetime | None:
    value = source.get(key)
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        problems.add(
            (*at, key),
            msg("expected an ISO 8601 time with offset, got {value}", value=repr(value)),
            IntakeErrorCode.WRONG_SHAPE,
        )
        return None
    return moment


def with_suffix(order_id: str, source: Mapping[str, Any]) -> str:
    """Channels mark split and re-issued orders with a suffix that belongs to the order number."""
    suffix = source.get(SUFFIX_FIELD)
    return f"{order_id}-{suffix}" if isinstance(suffix, str) and suffix.strip() else order_id


_ATTRIBUTION_KEYS = {
    "utm_source": ("utm_source", "utmSource"),
    "utm_medium": ("utm_medium", "utmMedium"),
    "utm_campaign": ("utm_campaign", "utmCampaign"),
    "landing_url": ("landing_url", "landingUrl", "landing_page", "LandingPage"),
}


def attribution(*sources: Mapping[str, Any]) -> AttributionSubmission | None:
    """Attribution where channels put it: top-level utm_* / landing fields, or an `attribution` or `traffic`
    object; the first place that has a value wins. Optional everywhere: a payload without any gives None."""
    places: list[Mapping[str, Any]] = []
    for source in sources:
        places.append(source)
        for nested in ("attribution", "traffic"):
            if isinstance(source.get(nested), Mapping):
                places.append(source[nested])
    found: dict[str, str | None] = {}
    for name, keys in _ATTRIBUTION_KEYS.items():
        found[name] = next(
            (str(p[k]) for p in places for k in keys if isinstance(p.get(k), str | int) and str(p[k]).strip()), None
        )
    if not any(found.values()):
        return None
    return AttributionSubmission(found["utm_source"], found["utm_medium"], found["utm_campaign"], found["landing_url"])
