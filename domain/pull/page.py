"""One page of a channel's order list, as every channel's pull reads it: the orders in the channel's own JSON and
where the next page starts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.confirmations.answer import Answer, Reply, SignedRequest
from domain.shops.credentials import Credentials


@dataclass(frozen=True)
class Window:
    """Orders changed in [start, end): a pull walks one window page by page, then the next."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Page:
    orders: list[dict[str, Any]]
    next_cursor: str | None
    """Where the next page of the same window starts (a page number, Amazon's NextToken); None: the last page."""

    @property
    def fingerprint(self) -> str:
        """Tells a page that repeats its predecessor (a channel serving the same page twice) from a new one."""
        text = json.dumps(self.orders, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class PullApi:
    """A channel's order list: how to ask for a page, how to read one, and how to make each order a payload its
    adapter reads as a pushed one. `items` fetches what the list leaves out (Amazon's order items), one call per
    order; `lag` is how far behind now a window must end (Amazon refuses a LastUpdatedBefore within 2 minutes)."""

    first_cursor: str
    build: Callable[[Window, str, Credentials, int, datetime], SignedRequest]
    read: Callable[[Reply, str], Page | Answer]
    payload: Callable[[dict[str, Any], dict[str, Any] | None], bytes]
    max_window_seconds: int
    lag_seconds: int = 0
    items: Callable[[str, Credentials, datetime], SignedRequest] | None = None
    read_items: Callable[[Reply], dict[str, Any] | Answer] | None = None
    order_id: Callable[[dict[str, Any]], str] | None = None


def compact(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def objects(values: object) -> Sequence[dict[str, Any]] | None:
    """A JSON array of objects, or None when the list is something else (a malformed page)."""
    if not isinstance(values, list) or not all(isinstance(v, dict) for v in values):
        return None
    return values
