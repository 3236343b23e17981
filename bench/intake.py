"""Channel intake throughput: record, clean, watch and normalize, per channel, against bare json.loads.

`python -m bench.intake [--quick]` builds a throwaway SQLite database (the embedded default), pins a
schema baseline and a cleaning rule per channel, then times each message through the real stages:
one committed transaction to record the sealed body, one to read the rules in force, clean, compare
with the pinned schema and map to a canonical order. The baseline is `json.loads` of the same bytes,
timed in the same run. Prints one JSON line last.
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
from domain.channels.service import decode, record_payload, rules_in_force, save_rules, watch
from domain.clock import utcnow
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


async def _pipeline(core: Core, channel: str, bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        await record_payload(core.sessions, core.vault, channel, body)
        adapter, payload = decode(channel, body)
        async with core.sessions() as session, session.begin():
            _, rules = await rules_in_force(session, channel, adapter.kind)
            await watch(session, adapter, channel, payload)
            normalize(adapter, clean(rules, payload))
    return time.perf_counter() - started


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


async def run(per_channel: int) -> dict[str, Any]:
    payloads = _payloads(per_channel)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        secrets = {"vault_key": "bench-vault", "identity_key": "bench-identity-key", "token_secret": "bench"}
        settings = Settings(data_dir=Path(tmp), database_url=url, **secrets)  # type: ignore[arg-type]
        core = await build_core(settings)
        try:
            await _prepare(core, payloads)
            results: dict[str, Any] = {}
            for channel, bodies in payloads.items():
                adapter = adapter_for(channel)
                assert adapter is not None
                async with core.sessions() as session:
                    _, rules = await rules_in_force(session, channel, adapter.kind)
                    baseline = (await session.exec(
                        SchemaBaseline.__table__.select().where(SchemaBaseline.__table__.c.channel == channel)  # type: ignore[attr-defined]
                    )).first()  # fmt: skip
                pipeline = await _pipeline(core, channel, bodies)
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
                }
                line = f"{channel:<16} {n:>5} msgs  pipeline {n / pipeline:>7.0f}/s  "
                line += f"in memory {n / memory:>7.0f}/s  json.loads {n / loads:>8.0f}/s  ratio {loads / pipeline:.5f}"
                print(line)
        finally:
            await core.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer messages, for a smoke run")
    args = parser.parse_args()
    per_channel = 100 if args.quick else 600
    results = asyncio.run(run(per_channel))
    print(json.dumps({"bench": "intake", "per_channel": per_channel, "channels": results}))


if __name__ == "__main__":
    main()
