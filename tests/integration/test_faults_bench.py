"""The fault bench's quick form, as a real run: `python -m bench.faults --quick` with the API and the worker as
OS processes, SIGKILLed mid-traffic, Redis dropped, PostgreSQL connections cut and malformed input fired.

One run serves every test here (it takes a minute or two); each target is its own test so that a miss names
itself. The targets are the real ones. A message recorded by an API process that is SIGKILLed before it writes
the outcome stays PENDING until the sweeper closes it as abandoned: that is the design (the record commits
first and alone), so the target is no message without an outcome *after* the sweeper; the bench reports how
many it closed (`pending_before_sweep`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import IN_CI, PG_ADMIN, _pg_reachable

ROOT = Path(__file__).parents[2]
DATABASES = ["sqlite", "postgresql"]
RUN_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def bench() -> dict[str, Any]:
    databases = ["sqlite"]
    if _pg_reachable():
        databases.append("postgresql")
    elif IN_CI:
        pytest.fail(f"PostgreSQL must be reachable in CI at {PG_ADMIN}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--quick", "--databases", ",".join(databases), "--pg-url", PG_ADMIN],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr[-3000:]  # 1: a target missed; anything else: the bench broke
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["bench"] == "faults" and result["verified"] == (done.returncode == 0)
    return result


def figures(bench: dict[str, Any], database: str) -> dict[str, Any]:
    if database not in bench["databases"]:
        pytest.skip(f"{database} not reachable")
    per_database: dict[str, Any] = bench["databases"][database]
    return per_database


@pytest.mark.parametrize("database", DATABASES)
def test_every_order_is_acknowledged_in_the_end_and_stored(bench: dict[str, Any], database: str) -> None:
    run = figures(bench, database)
    assert run["unfinished"] == 0, run["evidence"]
    assert run["acknowledged"] == bench["orders"] == run["stored"]
    assert run["payments_acknowledged"] > 0
    assert run["faults"], "no fault fired: the run measured a calm system"


@pytest.mark.parametrize("database", DATABASES)
def test_nothing_acknowledged_is_lost(bench: dict[str, Any], database: str) -> None:
    run = figures(bench, database)
    assert run["lost"] == 0, run["evidence"]["lost_samples"]


@pytest.mark.parametrize("database", DATABASES)
def test_no_order_or_voucher_is_duplicated(bench: dict[str, Any], database: str) -> None:
    assert figures(bench, database)["duplicated"] == 0


@pytest.mark.parametrize("database", DATABASES)
def test_every_answered_request_is_recorded(bench: dict[str, Any], database: str) -> None:
    run = figures(bench, database)
    assert run["unrecorded"] == 0, run["evidence"]["unrecorded_by"]


@pytest.mark.parametrize("database", DATABASES)
def test_no_inbound_message_is_left_without_outcome(bench: dict[str, Any], database: str) -> None:
    assert figures(bench, database)["without_outcome"] == 0


@pytest.mark.parametrize("database", DATABASES)
def test_malformed_input_never_gets_a_5xx(bench: dict[str, Any], database: str) -> None:
    run = figures(bench, database)
    assert run["http_5xx"] == 0, run["evidence"]["http_5xx_samples"]


@pytest.mark.parametrize("database", DATABASES)
def test_the_outbox_is_drained_after_the_restart(bench: dict[str, Any], database: str) -> None:
    assert figures(bench, database)["outbox_unsent"] == 0


@pytest.mark.parametrize("database", DATABASES)
def test_no_process_dies_of_a_fault_it_should_survive(bench: dict[str, Any], database: str) -> None:
    run = figures(bench, database)
    assert run["crashes"] == 0, run["processes"]
