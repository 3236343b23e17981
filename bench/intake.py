"""Channel intake throughput, per channel: the full pipeline against its stages in memory.

`python -m bench.intake [--quick]` builds a throwaway SQLite database (the embedded default), pins a
schema baseline and a cleaning rule per channel, then sends each channel's payloads through the
pipeline production runs, in batches of `--batch`: the record stage (sealed bodies, one commit per
batch), then the channel handler (`domain/pipeline/channel.py`) in one unit of work per batch:
rules in force, clean, drift compare and alert counts, canonical order, the order applied, what the
payload became, its outcome. The baseline: the same stages in memory (`json.loads`, drift compare,
clean, adapter) on the same batch, timed right after it. Also reported: bare `json.loads`.

It then checks its counts: every payload recorded once, each with an outcome (none PENDING), as many
orders as distinct channel order ids applied.

The other upstreams go through the same drift watch (`domain/channels/upstream.py`): payment
notifications, carrier evidence and bank statement files, each source's baseline learned and pinned
first, then the messages watched in units of work of `--batch` (baseline read, compare, alert counts;
a statement's layout read from its bytes), against the same stages in memory (fields read, compare).
A tenth of them carry a planted change, so alerts are counted too.

Prints one JSON line last, with `pipeline_vs_in_memory_min` (the slowest channel's ratio),
`watch_ratio_min` (the slowest upstream's watch against its in-memory stages) and `verified`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench.pgdb import DEFAULT_ADMIN_URL, sqlalchemy_url, temporary_database
from domain.channels import drift
from domain.channels.adapter import normalize
from domain.channels.cleaning import clean
from domain.channels.models import SchemaBaseline
from domain.channels.registry import adapter_for
from domain.channels.service import record_payloads, rules_in_force, save_rules
from domain.channels.upstream import ENUM_PATHS, UpstreamKind, evidence_fields, notification_fields, observe, pin
from domain.clock import utcnow
from domain.errors import Problems
from domain.fulfilment.evidence import CarrierSubmission, validate_carrier
from domain.intake.models import InboundMessage, Outcome
from domain.orders.models import Order
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.pipeline.channel import ChannelMessage, Handled
from domain.reconcile.statements.layout import read_layout
from domain.settings import Settings
from runtime.core import Core, build_core
from sim.channel_feed import FEED_CHANNELS, channel_day
from sim.statements import BillRow, bank_csv

WATCH_DAY = datetime(2026, 1, 22, 2, tzinfo=UTC)
SUFFIX_RULE = {"op": "drop_if_equals", "path": "order_id_suffix", "value": "ERR"}


def _payloads(per_channel: int, seed: int = 11, day: date = date(2026, 1, 22)) -> dict[str, list[bytes]]:
    feed = channel_day(seed, day, per_channel)
    by_channel: dict[str, list[bytes]] = {c: [] for c in FEED_CHANNELS}
    for item in feed:
        if item.injected is None or item.channel == "AMAZON":
            by_channel[item.channel].append(json.dumps(item.payload, ensure_ascii=False).encode())
    return by_channel


async def _prepare(core: Core, payloads: dict[str, list[bytes]]) -> None:
    async with core.sessions() as session, session.begin():
        for channel, bodies in payloads.items():
            adapter = adapter_for(channel)
            assert adapter is not None
            shape: dict[str, Any] = {}
            for body in bodies[:20]:
                shape = drift.learn(shape, json.loads(body), adapter.enum_paths)
            session.add(SchemaBaseline(channel=channel, kind=adapter.kind, shape=shape, samples=shape["samples"],
                                       pinned_by="bench", pinned_at=utcnow(), updated_at=utcnow()))  # fmt: skip
            await save_rules(session, core.vault, channel, [SUFFIX_RULE], "bench", "bench")


async def _pipeline(
    core: Core, channel: str, bodies: list[bytes], batch: int, in_memory: Callable[[list[bytes]], float]
) -> Run:
    """Seconds through the pipeline and through the stages in memory, batch after batch: both sides share
    the machine's load of the moment, which on a shared machine moves more than either side."""
    handler = core.channel_payloads()
    run = Run()
    for first in range(0, len(bodies), batch):
        chunk = bodies[first : first + batch]
        started, cpu = time.perf_counter(), time.process_time()
        recorded = await record_payloads(core.sessions, core.vault, channel, chunk)
        messages = [
            ChannelMessage(r.message_id, channel, body, Provenance(Source.CHANNEL, "bench", r.message_id))
            for r, body in zip(recorded, chunk, strict=True)
            if r.is_new and r.refusal is None
        ]
        async with core.sessions() as session, session.begin():
            run.handled.extend(await handler.process_batch(session, messages))
        run.pipeline += time.perf_counter() - started
        run.pipeline_cpu += time.process_time() - cpu
        run.message_ids.extend(r.message_id for r in recorded)
        cpu = time.process_time()
        run.memory += in_memory(chunk)
        run.memory_cpu += time.process_time() - cpu
    return run


@dataclass
class Run:
    pipeline: float = 0.0
    memory: float = 0.0
    pipeline_cpu: float = 0.0
    memory_cpu: float = 0.0
    handled: list[Handled] = field(default_factory=list)
    message_ids: list[int] = field(default_factory=list)


async def _verify(core: Core, channel: str, bodies: list[bytes], run: Run) -> list[str]:
    """The counts a fast wrong pipeline would get wrong; returns what does not add up."""
    problems = []
    applied = {h.canonical.channel_order_id for h in run.handled if h.outcome is Outcome.APPLIED and h.canonical}
    async with core.sessions() as session:
        table = InboundMessage.__table__  # type: ignore[attr-defined]
        rows = (await session.exec(table.select().where(table.c.id.in_(set(run.message_ids))))).all()
        orders = Order.__table__  # type: ignore[attr-defined]
        query = orders.select().where(orders.c.channel == channel, orders.c.channel_order_id.in_(applied))
        stored = (await session.exec(query)).all()
    if len(rows) != len(set(bodies)):
        problems.append(f"{channel}: {len(rows)} recorded of {len(set(bodies))} distinct payloads")
    pending = [r.id for r in rows if r.outcome == Outcome.PENDING]
    if pending:
        problems.append(f"{channel}: {len(pending)} payloads without an outcome")
    if len(stored) != len(applied):
        problems.append(f"{channel}: {len(stored)} orders stored for {len(applied)} channel order ids applied")
    if sum(r.outcome == Outcome.APPLIED for r in rows) != sum(h.outcome is Outcome.APPLIED for h in run.handled):
        problems.append(f"{channel}: stored APPLIED outcomes differ from the handler's")
    return problems


async def _warm_up(core: Core) -> None:
    """Another day's payloads first: a serving process has compiled its statements long before."""
    for channel, bodies in _payloads(20, seed=12, day=date(2026, 1, 23)).items():
        await _pipeline(core, channel, bodies, len(bodies), lambda chunk: 0.0)


def _in_memory(channel: str, bodies: list[bytes], *, shape: dict[str, Any], rules: Any) -> float:
    adapter = adapter_for(channel)
    assert adapter is not None
    started = time.perf_counter()
    for body in bodies:
        payload = json.loads(body)
        drift.compare(shape, payload, adapter.enum_paths, adapter.known_values())
        normalize(adapter, clean(rules, payload))
    return time.perf_counter() - started


def _watched(kind: UpstreamKind, n: int) -> list[bytes]:
    """Each upstream's messages as they arrive; every tenth has the change the simulator plants."""
    bodies = []
    for i in range(n):
        changed = i % 10 == 9
        if kind is UpstreamKind.PAYMENT:
            payload = {"transaction_id": f"W-{i}", "kind": "payment", "order_ref": f"O-{i}", "amount": "9.90",
                       "currency": "CNY", "status": "confirmed", "occurred_at": WATCH_DAY.isoformat()}  # fmt: skip
            bodies.append(json.dumps(payload | ({"fee_amount": "0.05"} if changed else {})).encode())
        elif kind is UpstreamKind.CARRIER:
            sub = {"event_id": f"e{i}", "carrier_code": "ZTO", "tracking_number": f"75{i:08d}",
                   "action": "IN_TRANSIT", "location": None if changed else "Hangzhou", "courier": "Li"}  # fmt: skip
            bodies.append(json.dumps(sub).encode())
        else:
            rows = [BillRow(WATCH_DAY, f"B{i}-{j}", f"T{i}-{j}", "PAYMENT", 100 + j) for j in range(20)]
            data = bank_csv(rows)
            bodies.append(data.replace(b"memo", b"remark", 1) if changed else data)
    return bodies


def _fields(kind: UpstreamKind, body: bytes) -> tuple[str, dict[str, Any]]:
    """The stage every watched message needs before the compare: its fields, and its source."""
    if kind is UpstreamKind.PAYMENT:
        return "bench-pay", notification_fields(body)
    if kind is UpstreamKind.CARRIER:
        sub = json.loads(body)
        evidence = validate_carrier(CarrierSubmission(occurred_at=WATCH_DAY, **sub), ("input",), Problems())
        assert evidence is not None
        _, source, fields = evidence_fields(evidence)
        return source, fields
    return "bank-csv:bench", read_layout(body).as_payload()


def _watch_in_memory(kind: UpstreamKind, bodies: list[bytes], shape: dict[str, Any]) -> float:
    started = time.perf_counter()
    for body in bodies:
        _, fields = _fields(kind, body)
        drift.compare(shape, fields, ENUM_PATHS[kind])
    return time.perf_counter() - started


async def _watch(core: Core, n: int, batch: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    kinds = (UpstreamKind.PAYMENT, UpstreamKind.CARRIER, UpstreamKind.STATEMENT)
    for kind in kinds:  # warm: the statements compiled, the parsers' first calls paid, before anything is timed
        async with core.sessions() as session, session.begin():
            await observe(session, kind, "bench-warm-up", [_fields(kind, b)[1] for b in _watched(kind, 10)])
    for kind in kinds:
        bodies = _watched(kind, n)
        source, _ = _fields(kind, bodies[0])
        async with core.sessions() as session, session.begin():
            await observe(session, kind, source, [_fields(kind, b)[1] for b in bodies[:9]])
            baseline = await pin(session, kind, source, "bench")
        shape = baseline.shape
        watched = memory = 0.0
        found = 0
        for start in range(0, len(bodies), batch):
            chunk = bodies[start : start + batch]
            began = time.perf_counter()
            async with core.sessions() as session, session.begin():
                seen = await observe(session, kind, source, [_fields(kind, b)[1] for b in chunk])
            watched += time.perf_counter() - began
            found += sum(1 for findings in seen if findings)
            memory += _watch_in_memory(kind, chunk, shape)
        results[kind.value] = {
            "messages": len(bodies), "watch_per_s": round(len(bodies) / watched),
            "stages_in_memory_per_s": round(len(bodies) / memory), "watch_vs_in_memory": round(memory / watched, 4),
            "with_findings": found, "planted": len(bodies) // 10,
        }  # fmt: skip
        print(f"watch {kind.value:<10} {len(bodies):>5} msgs  watch {len(bodies) / watched:>7.0f}/s  "
              f"in memory {len(bodies) / memory:>7.0f}/s  watch/in memory {memory / watched:.3f}  "
              f"findings {found}/{len(bodies) // 10} planted")  # fmt: skip
    return results


def _json_loads(bodies: list[bytes], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            json.loads(body)
    return (time.perf_counter() - started) / rounds


async def run(per_channel: int, batch: int, database: str, pg_url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        if database == "sqlite":
            return await _run(f"sqlite+aiosqlite:///{tmp}/bench.db", Path(tmp), per_channel, batch)
        async with temporary_database(pg_url) as url:
            return await _run(sqlalchemy_url(url), Path(tmp), per_channel, batch)


async def _run(url: str, data_dir: Path, per_channel: int, batch: int) -> dict[str, Any]:
    payloads = _payloads(per_channel)
    secrets = {"vault_key": "bench-vault", "identity_key": "bench-identity-key", "token_secret": "bench"}
    settings = Settings(data_dir=data_dir, database_url=url, **secrets)  # type: ignore[arg-type]
    core = await build_core(settings)
    try:
        await _prepare(core, payloads)
        await _warm_up(core)
        results: dict[str, Any] = {}
        mismatches: list[str] = []
        for channel, bodies in payloads.items():
            adapter = adapter_for(channel)
            assert adapter is not None
            async with core.sessions() as session:
                _, rules = await rules_in_force(session, channel, adapter.kind)
                baseline = (await session.exec(
                    SchemaBaseline.__table__.select().where(SchemaBaseline.__table__.c.channel == channel)  # type: ignore[attr-defined]
                )).first()  # fmt: skip
            stages = partial(_in_memory, channel, shape=baseline.shape, rules=rules)
            run = await _pipeline(core, channel, bodies, batch, stages)
            pipeline, memory = run.pipeline, run.memory
            mismatches.extend(await _verify(core, channel, bodies, run))
            outcomes = {o.value: sum(h.outcome is o for h in run.handled) for o in Outcome}
            loads = _json_loads(bodies, 20)
            n = len(bodies)
            results[channel] = {
                "messages": n,
                "pipeline_per_s": round(n / pipeline),
                "stages_in_memory_per_s": round(n / memory),
                "json_loads_per_s": round(n / loads),
                "ratio_pipeline_vs_json_loads": round(loads / pipeline, 5),
                "ratio_in_memory_vs_json_loads": round(loads / memory, 4),
                "pipeline_vs_in_memory": round(memory / pipeline, 4),
                "pipeline_vs_in_memory_cpu": round(run.memory_cpu / run.pipeline_cpu, 4),
                "outcomes": {k: v for k, v in outcomes.items() if v},
            }
            line = f"{channel:<16} {n:>5} msgs  pipeline {n / pipeline:>7.0f}/s  "
            line += f"in memory {n / memory:>7.0f}/s  json.loads {n / loads:>8.0f}/s  "
            line += f"pipeline/in memory {memory / pipeline:.3f} (cpu {run.memory_cpu / run.pipeline_cpu:.3f})"
            print(line)
        watch = await _watch(core, per_channel, batch)
    finally:
        await core.close()
    for mismatch in mismatches:
        print("MISMATCH", mismatch)
    return {
        "channels": results,
        "pipeline_vs_in_memory_min": min(r["pipeline_vs_in_memory"] for r in results.values()),
        "watch": watch,
        "watch_ratio_min": min(r["watch_vs_in_memory"] for r in watch.values()),
        "verified": not mismatches and all(r["with_findings"] == r["planted"] for r in watch.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    parser.add_argument("--batch", type=int, default=200, help="payloads per unit of work (1: one at a time)")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url", default=DEFAULT_ADMIN_URL, help="admin URL; a temporary database is made beside")
    args = parser.parse_args()
    per_channel = 100 if args.quick else 600
    results = asyncio.run(run(per_channel, args.batch, args.database, args.pg_url))
    head = {"bench": "intake", "database": args.database, "per_channel": per_channel, "batch": args.batch}
    print(json.dumps(head | results))


if __name__ == "__main__":
    main()
