"""How many SQL statements and pooled connections one `submitOrder` costs, new and repeated: a regression
guard against a query per line or per field, or a session per step, creeping in. The ceilings are what
the request issues today; a change that adds statements must raise them on purpose."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from tests.conftest import Api, Credentials
from tests.integration.orders_fixtures import SUBMIT_ORDER, order_input

# Measured on SQLite and PostgreSQL alike: the key, the record, 10 to apply, the outcome. Nothing is read
# back for the answer: it is the rows as the unit of work wrote them.
NEW_ORDER = 13
SAME_ORDER_AGAIN = 5
# On PostgreSQL the key is read, the record written, the order applied and the outcome written on one
# connection, in one transaction. SQLite records alone first (its one write lock would otherwise be held
# while the request runs) and reads the key apart.
CONNECTIONS = {"postgresql": 1, "sqlite": 3}


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

    def checkout(*_args: Any) -> None:
        if asyncio.current_task() is task:
            seen.append(CHECKOUT)

    engine = api.runtime.core.engine.sync_engine
    event.listen(engine, "before_cursor_execute", before_cursor_execute)
    event.listen(engine.pool, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before_cursor_execute)
        event.remove(engine.pool, "checkout", checkout)


CHECKOUT = "(a connection taken from the pool)"


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
    connections = CONNECTIONS[api.runtime.core.engine.dialect.name]
    for seen, statements, what in ((new, NEW_ORDER, "a new order"), (again, SAME_ORDER_AGAIN, "the same order again")):
        count = len([s for s in seen if s != CHECKOUT])
        assert count <= statements, f"{count} statements for {what}:\n{breakdown(seen)}"
        assert seen.count(CHECKOUT) <= connections, f"{seen.count(CHECKOUT)} connections for {what}:\n{breakdown(seen)}"
