"""How many SQL statements one `submitOrder` costs, new and repeated: a regression guard against a
query per line or per field creeping in. The ceilings are what the request issues today; a change
that adds statements must raise them on purpose."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

# Measured on SQLite and PostgreSQL alike: the key, the record, 11 to apply, the outcome.
NEW_ORDER = 14
SAME_ORDER_AGAIN = 6


@contextmanager
def statements_of_this_task(api: Api) -> Iterator[list[str]]:
    """Statements issued by the current task (the ASGI app runs in the caller's task), not by the
    outbox relay, which publishes in a task of its own after the commit."""
    task = asyncio.current_task()
    seen: list[str] = []

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # SQLite's units of work send BEGIN IMMEDIATE as a statement; PostgreSQL's BEGIN is the driver's own.
        if asyncio.current_task() is task and not statement.startswith("BEGIN"):
            seen.append(" ".join(statement.split())[:90])

    engine = api.runtime.core.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)


async def submit(api: Api, creds: Credentials, channel_order_id: str) -> list[str]:
    with statements_of_this_task(api) as seen:
        result = await api.gql(SUBMIT_ORDER, {"input": order_input(channel_order_id)}, headers=creds.writer)
    assert result["data"]["submitOrder"]["userErrors"] == []
    return seen


def breakdown(seen: list[str]) -> str:
    return "\n".join(f"{n:3} x {statement}" for statement, n in Counter(seen).most_common())


async def test_one_submit_order_issues_a_bounded_number_of_statements(api: Api, creds: Credentials) -> None:
    new = await submit(api, creds, "4102938475610293847")
    again = await submit(api, creds, "4102938475610293847")
    assert len(new) <= NEW_ORDER, f"{len(new)} statements for a new order:\n{breakdown(new)}"
    assert len(again) <= SAME_ORDER_AGAIN, f"{len(again)} statements for the same order again:\n{breakdown(again)}"
