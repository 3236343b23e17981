"""The health drill-downs find a day's few drifting, mis-attributed and id-disagreeing orders through their partial
indexes, so at a million orders a day they do not read the whole day. If a query's condition stops matching its
index's predicate (the channels' utm sources change without a migration, say), the planner cannot use the index
and this fails."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from tests.conftest import Api, Credentials
from tests.integration.test_health_api import DRILL

INDEXES = {  # a phrase only that list's query has: the index it must be able to use
    "status_changes > o.min_status_changes": "ix_orders_drifting",
    "NOT (o.utm_source IS NOT NULL": "ix_orders_misattributed",
    "customer_ids_differ = 1": "ix_orders_ids_differ",
}


async def test_each_drilldown_can_read_its_partial_index(api: Api, creds: Credentials) -> None:
    engine = api.runtime.core.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner, told not to scan the table; SQLite's choice on an empty table means little")
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM orders o" in statement:
            sent.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        answer = await api.gql(DRILL, {"input": {"period": "DAY"}, "first": 10}, headers=creds.cs)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", capture)
    assert answer["data"]["healthDrilldown"]["userErrors"] == []
    for phrase, index in INDEXES.items():
        found = [(s, p) for s, p in sent if phrase in s]
        assert len(found) == 1, (phrase, [s for s, _ in sent])
        statement, parameters = found[0]
        async with engine.connect() as conn:  # the table is empty: only forbidding the scan shows what applies
            await conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = "\n".join(str(r[0]) for r in (await conn.exec_driver_sql("EXPLAIN " + statement, parameters)))
        assert index in plan, (index, plan)
