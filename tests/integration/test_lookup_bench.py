"""The lookup bench at a small size, as a real run: every answer checked, and each lookup answered from an
index (a plan that scans orders or parcels would not hold its < 50 ms at a million orders)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, PG_ADMIN, _pg_reachable

ROOT = Path(__file__).parents[2]


def test_lookups_are_right_and_use_the_indexes() -> None:
    if not _pg_reachable():
        if IN_CI:
            pytest.fail(f"PostgreSQL must be reachable in CI at {PG_ADMIN}")
        pytest.skip("no PostgreSQL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.lookup", "--orders", "5000", "--lookups", "30", "--admin-url", PG_ADMIN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["bench"] == "lookup" and figures["orders"] == 5000 and figures["verified"] is True
    for key in ("channel_order_p99_ms", "tracking_p99_ms", "phone_p99_ms", "pk_p99_ms", "ratio_to_floor"):
        assert figures[key] > 0, key
    plans = done.stderr
    assert "Index Scan using ix_orders_channel_order_id" in plans
    assert "ix_orders_tracking_number" in plans and "ix_parcel_tracking_number" in plans
    assert "ix_orders_buyer_uid_id" in plans
    assert "Seq Scan" not in plans, plans
