"""Channel intake throughput, per channel: the full pipeline against its stages in memory.

`python -m bench.intake [--quick]` builds a throwaway SQLite database (the embedded default), pins a
schema baseline and a cleaning rule per channel, then sends each channel's payloads through the
pipeline production runs, in batches of `--batch`: the record stage (sealed bodies, one commit per
batch), then the channel handler (`domain/pipeline/channel.py`) in one unit of work per batch:
rules in force, clean, drift compare and alert counts, canonical order, the order applied, what the
payload became, its outcome. The baseline, timed in the same run: the same stages in memory
(`json.loads`, drift compare, clean, adapter). Also reported: bare `json.loads`.

It then checks its counts: every payload recorded once, each with an outcome (none PENDING), as many
orders as distinct channel order ids applied. Prints one JSON line last, with
`pipeline_vs_in_memory_min` (the slowest channel's ratio) and `verified`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from domain.channels import drift
from domain.channels.adapter import normalize
from domain.channels.cleaning import clean
from domain.channels.models import SchemaBaseline
from domain.channels.registry import adapter_for
from domain.channels.service import record_payloads, rules_in_force, save_rules
from domain.clock import utcnow
from domain.intake.models import InboundMessage, Outcome
from domain.orders.models import Order
from domain.orders.service import Provenance
from domain.orders.status import Source
from domain.pipeline.channel import ChannelMessage, Handled
from domain.settings import Settings
from runtime.core import Core, build_core
from sim.channel_feed import FEED_CHANNELS, channel_day

SUFFIX_RULE = {"op": "drop_if_equals", "path": "order_id_suffix", "value": "ERR"}


def _payloads(per_channel: int) -> dict[str, list[bytes]]:
    feed = channel_day(11, date(2026, 1, 22), per_channel)
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


async def _pipeline(core: Core, channel: str, bodies: list[bytes], batch: int) -> tuple[float, list[Handled]]:
    handler = core.channel_payloads()
    handled: list[Handled] = []
    started = time.perf_counter()
    for first in range(0, len(bodies), batch):
        chunk = bodies[first : first + batch]
        recorded = await record_payloads(core.sessions, core.vault, channel, chunk)
        messages = [
            ChannelMessage(r.message_id, channel, body, Provenance(Source.CHANNEL, "bench", r.message_id))
            for r, body in zip(recorded, chunk, strict=True)
            if r.is_new and r.refusal is None
        ]
        async with core.sessions() as session, session.begin():
            handled.extend(await handler.process_batch(session, messages))
    return time.perf_counter() - started, handled


async def _verify(core: Core, channel: str, bodies: list[bytes], handled: list[Handled]) -> list[str]:
    """The counts a fast wrong pipeline would get wrong; returns what does not add up."""
    problems = []
    async with core.sessions() as session:
        table = InboundMessage.__table__  # type: ignore[attr-defined]
        rows = (await session.execute(table.select().where(table.c.source == channel))).all()
        orders = Order.__table__  # type: ignore[attr-defined]
        stored = (await session.execute(orders.select().where(orders.c.channel == channel))).all()
    if len(rows) != len(set(bodies)):
        problems.append(f"{channel}: {len(rows)} recorded of {len(set(bodies))} distinct payloads")
    pending = [r.id for r in rows if r.outcome == Outcome.PENDING]
    if pending:
        problems.append(f"{channel}: {len(pending)} payloads without an outcome")
    applied = {h.canonical.channel_order_id for h in handled if h.outcome is Outcome.APPLIED and h.canonical}
    if len(stored) != len(applied):
        problems.append(f"{channel}: {len(stored)} orders stored for {len(applied)} channel order ids applied")
    if sum(r.outcome == Outcome.APPLIED for r in rows) != sum(h.outcome is Outcome.APPLIED for h in handled):
        problems.append(f"{channel}: stored APPLIED outcomes differ from the handler's")
    return problems


def _in_memory(channel: str, bodies: list[bytes], shape: dict[str, Any], rules: Any) -> float:
    adapter = adapter_for(channel)
    assert adapter is not None
    started = time.perf_counter()
    for body in bodies:
        payload = json.loads(body)
        drift.compare(shape, payload, adapter.enum_paths, adapter.known_values())
        normalize(adapter, clean(rules, payload))
    return time.perf_counter() - started


def _json_loads(bodies: list[bytes], rounds: int) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        for body in bodies:
            json.loads(body)
    return (time.perf_counter() - started) / rounds


async def run(per_channel: int, batch: int) -> dict[str, Any]:
    payloads = _payloads(per_channel)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        secrets = {"vault_key": "bench-vault", "identity_key": "bench-identity-key", "token_secret": "bench"}
        settings = Settings(data_dir=Path(tmp), database_url=url, **secrets)  # type: ignore[arg-type]
        core = await build_core(settings)
        try:
            await _prepare(core, payloads)
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
                pipeline, handled = await _pipeline(core, channel, bodies, batch)
                mismatches.extend(await _verify(core, channel, bodies, handled))
                outcomes = {o.value: sum(h.outcome is o for h in handled) for o in Outcome}
                memory = _in_memory(channel, bodies, baseline.shape, rules)
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
                    "outcomes": {k: v for k, v in outcomes.items() if v},
                }
                line = f"{channel:<16} {n:>5} msgs  pipeline {n / pipeline:>7.0f}/s  "
                line += f"in memory {n / memory:>7.0f}/s  json.loads {n / loads:>8.0f}/s  "
                line += f"pipeline/in memory {memory / pipeline:.3f}"
                print(line)
        finally:
            await core.close()
    for mismatch in mismatches:
        print("MISMATCH", mismatch)
    return {
        "channels": results,
        "pipeline_vs_in_memory_min": min(r["pipeline_vs_in_memory"] for r in results.values()),
        "verified": not mismatches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    parser.add_argument("--batch", type=int, default=100, help="payloads per unit of work (1: one at a time)")
    args = parser.parse_args()
    per_channel = 100 if args.quick else 600
    results = asyncio.run(run(per_channel, args.batch))
    print(json.dumps({"bench": "intake", "per_channel": per_channel, "batch": args.batch} | results))


if __name__ == "__main__":
    main()
