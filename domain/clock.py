"""Aware UTC time, the only kind orderhub stores."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A naive time is a caller's bug, not a guess to make: refuse it."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("time without a UTC offset")
    return moment.astimezone(UTC)
