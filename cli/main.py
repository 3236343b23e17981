"""The `orderhub` command: serve, worker, migrate, demo, token, schema, replay, reconcile, ml, export, selfcheck."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from domain.errors import UserError
from domain.settings import Settings, get_settings
from runtime.queues import QUEUES


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="orderhub", description="orderhub: one order backend for every channel")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the API (GraphQL at /graphql)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)

    worker = sub.add_parser("worker", help="run the arq workers (jobs and cron), one per queue")
    worker.add_argument(
        "--queue",
        action="append",
        choices=list(QUEUES),
        help="serve only this queue (repeatable; default: all of them)",
    )
    worker.add_argument(
        "--check",
        action="store_true",
        help="exit 0 if a live worker serves each queue (its heartbeat in Redis), else 1; one line of text",
    )
    sub.add_parser("migrate", help="apply database migrations")
    sub.add_parser("schema", help="export schema.graphql")

    demo = sub.add_parser("demo", help="run a simulated day through the whole system")
    demo.add_argument("--orders", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="exit after the report instead of serving GraphiQL")

    replay = sub.add_parser("replay", help="replay recorded channel payloads or evidence events (dry run)")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--channel", help="TAOBAO, DOUYIN, WECHAT_CHANNELS, AMAZON ...")
    which.add_argument("--warehouse", help="a warehouse code (WH1): its recorded warehouse events")
    which.add_argument("--carrier", help="a carrier code (SF): its recorded carrier events")
    replay.add_argument("--from", dest="start", required=True, type=_moment, help="ISO time with offset")
    replay.add_argument("--to", dest="end", required=True, type=_moment, help="ISO time with offset")
    replay.add_argument("--apply", action="store_true", help="apply for real (idempotent)")
    reconcile = sub.add_parser("reconcile", help="import statement files (once each) and reconcile them")
    reconcile.add_argument("files", nargs="+", help="WeChat Pay trade bill, Alipay trade detail or bank CSV")
    reconcile.add_argument("--provider", default="bank", help="for bank CSVs: whose money it is")

    export = sub.add_parser("export", help="orders of a period as CSV or XLSX, streamed to a file")
    export.add_argument("--days", type=int, help="the last N days (default 7), or before --to")
    export.add_argument("--from", dest="start", type=_moment, help="ISO time with offset; placed at or after")
    export.add_argument("--to", dest="end", type=_moment, help="ISO time with offset; placed before (default now)")
    export.add_argument("--format", default="csv", help="csv or xlsx")
    export.add_argument("--output", help="file to write (default orders-FROM-TO.FORMAT here); - for stdout")
    selfcheck = sub.add_parser("selfcheck", help="configuration checklist and shipped-without-tracking ratio")
    selfcheck.add_argument("--format", default="markdown", choices=["markdown", "json"])
    selfcheck.add_argument("--output", help="also write the report to this file")

    ml = sub.add_parser("ml", help="next-step prediction: evaluate on an event log")
    ml_sub = ml.add_subparsers(dest="ml_command", required=True)
    ml_eval = ml_sub.add_parser("evaluate", help="time-based split of a CSV event log, model against baseline")
    ml_train = ml_sub.add_parser(
        "train", help="train a versioned model; promoted only if it beats baseline and current"
    )
    ml_train.add_argument("--models-dir", help="where artifacts and registry.json live (default: DATA_DIR/models)")
    for command in (ml_eval, ml_train):
        source = command.add_mutually_exclusive_group(required=True)
        source.add_argument("--event-log", help="CSV with case id, activity and timestamp columns")
        source.add_argument("--from-db", action="store_true", help="the orders' fulfilment history in the database")
        command.add_argument("--since", type=_moment, help="with --from-db: orders whose first stage is at or after")
        command.add_argument("--case-col", default="CaseID")
        command.add_argument("--activity-col", default="ActivityID")
        command.add_argument("--time-col", default="CompleteTimestamp")
        command.add_argument("--group-col", help="optional column of where a step happens (e.g. warehouse)")
        command.add_argument("--unit", default="days", choices=["seconds", "minutes", "hours", "days"])

    token = sub.add_parser("token", help="issue a customer, partner or staff credential")
    kinds = token.add_subparsers(dest="kind", required=True)
    customer = kinds.add_parser("customer", help="a bearer token bound to one buyer")
    who = customer.add_mutually_exclusive_group(required=True)
    who.add_argument("--phone", help="the buyer's phone; hashed, never stored")
    who.add_argument("--uid", help="the buyer UID")
    partner = kinds.add_parser("partner", help="an API key with scopes (shown once)")
    partner.add_argument("--name", required=True)
    partner.add_argument("--scopes", required=True, help="comma separated, e.g. orders:write,orders:read")
    served = partner.add_mutually_exclusive_group(required=True)
    served.add_argument("--channel", help="the sales channels the key serves, comma separated, e.g. DOUYIN")
    served.add_argument("--all-channels", action="store_true", help="a key that serves every channel (a WMS, an ERP)")
    staff = kinds.add_parser("staff", help="create a staff account and print a token for it")
    staff.add_argument("--email", required=True)
    staff.add_argument("--roles", required=True, help="comma separated: admin, ops, cs, finance")
    staff.add_argument("--password", help="prompted for when omitted; at least 12 characters")

    accounts = sub.add_parser("staff", help="disable a staff account or change its roles; takes effect at once")
    account_commands = accounts.add_subparsers(dest="staff_command", required=True)
    disable = account_commands.add_parser("disable", help="its tokens stop working and its websockets close")
    disable.add_argument("--email", required=True)
    re_role = account_commands.add_parser("roles", help="replace the account's roles")
    re_role.add_argument("--email", required=True)
    re_role.add_argument("--roles", required=True, help="comma separated: admin, ops, cs, finance")

    keys = sub.add_parser("keys", help="list, rotate or revoke partner keys; every change goes to the admin log")
    key_commands = keys.add_subparsers(dest="key_command", required=True)
    key_commands.add_parser("list", help="active keys: id, name, last four characters, scopes, channels, last use")
    rotate = key_commands.add_parser("rotate", help="a new key with the same access; the old one stops after --overlap")
    rotate.add_argument("--id", type=int, required=True)
    rotate.add_argument("--overlap-minutes", type=int, default=0, help="how long the old key keeps working")
    revoke = key_commands.add_parser("revoke", help="the key stops working on its next request")
    revoke.add_argument("--id", type=int, required=True)
    admin_log = sub.add_parser("admin-log", help="the latest changes of partner keys and staff accounts")
    admin_log.add_argument("--limit", type=int, default=20)
    pull = sub.add_parser("pull", help="pull a shop's orders from its channel now (or turn its scheduled pull on/off)")
    pull.add_argument("--shop", required=True, help="the shop's code on its channel")
    pull.add_argument("--channel", help="the shop's channel, when two channels have a shop of that code")
    switch = pull.add_mutually_exclusive_group()
    switch.add_argument("--enable", action="store_true", help="pull it every 5 minutes from now on, then pull now")
    switch.add_argument("--disable", action="store_true", help="stop the scheduled pull (pulls nothing now)")

    messages = sub.add_parser("messages", help="list the sentences a catalog lacks; --into AREA adds them there")
    messages.add_argument("--into", help="the area's catalog file (locales/<lang>/AREA.po) to add them to")

    args = parser.parse_args(argv)
    if args.command == "messages":
        return _messages(args)
    from domain.i18n import use_language
    from runtime.logs import configure_logging

    try:
        configure_logging(get_settings())
        if args.command == "serve":
            return _serve(args)
        # No caller to ask: what the command prints or writes for people (the self-check report, the demo's
        # backtracks) speaks the merchant's language.
        with use_language(get_settings().merchant_language):
            return int(asyncio.run(_dispatch(args)) or 0)
    except (ValueError, UserError) as exc:
        print(f"orderhub: {exc}", file=sys.stderr)
        return 2


def _messages(args: argparse.Namespace) -> int:
    from cli.messages import add_missing, missing
    from domain.i18n import LANGUAGES

    if args.into:
        for language, count in add_missing(args.into).items():
            print(f"{language}: {count} added to {args.into}.po")
    lacking = {language: missing(language) for language in LANGUAGES}
    for language, ids in lacking.items():
        for message_id in ids:
            print(f"{language}: untranslated: {message_id!r}")
    return 1 if any(lacking.values()) else 0


def _serve(args: argparse.Namespace) -> int:
    """uvicorn keeps no log handlers of its own (`log_config=None`): its lines go through ours, as JSON."""
    import uvicorn

    settings = get_settings()
    if not asyncio.run(_may_start(settings, "serve")):
        return 2
    if args.workers > 1:
        _share_metrics(settings)
    if settings.metrics_enabled and settings.metrics_port is not None:
        from runtime.metrics_server import serve_metrics

        serve_metrics(settings.metrics_port, settings, settings.redis_url)
    uvicorn.run("api.asgi:app", host=args.host, port=args.port, workers=args.workers, log_config=None)
    if "runtime.metrics" in sys.modules:
        sys.modules["runtime.metrics"].process_ended(os.getpid())
    return 0


async def _may_start(settings: Settings, command: str) -> bool:
    """Refuses, with every reason at once, to start a process that would fail later or quietly misbehave."""
    from runtime.startup import startup_problems

    problems = await startup_problems(settings)
    if problems:
        reasons = "".join(f"\n  - {problem}" for problem in problems)
        print(f"orderhub {command}: refusing to start:{reasons}", file=sys.stderr)
    return not problems


def _share_metrics(settings: Settings) -> None:
    """Several API processes count into one directory, and any of them answers /metrics for all. Set
    before any of them imports prometheus-client; a directory of our own is emptied first (counts of a
    previous run would add up with this one's), one given in PROMETHEUS_MULTIPROC_DIR is left as it is."""
    from domain.datadir import private_dir

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    directory = private_dir(settings.data_dir.resolve() / "metrics")
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)


async def _dispatch(args: argparse.Namespace) -> int | None:
    settings = get_settings()
    if args.command == "migrate":
        from domain.db import migrate_async

        await migrate_async(settings.resolved_database_url())
        print("database is at the latest schema")
    elif args.command == "schema":
        from api.graphql.schema import SCHEMA_FILE, export_schema

        export_schema()
        print(f"wrote {SCHEMA_FILE}")
    elif args.command == "worker":
        queues = args.queue or list(QUEUES)
        if args.check:
            return await _worker_check(settings, queues)
        if not await _may_start(settings, "worker"):
            return 2
        await _worker(settings, queues)
    elif args.command == "demo":
        from cli.demo.day import run_demo

        return await run_demo(settings, orders=args.orders, seed=args.seed, port=args.port, serve=not args.no_serve)
    elif args.command == "token":
        await _token(args)
    elif args.command == "staff":
        await _staff(settings, args)
    elif args.command == "keys":
        await _keys(settings, args)
    elif args.command == "admin-log":
        await _admin_log(settings, args.limit)
    elif args.command == "replay":
        return await (_replay(args) if args.channel else _replay_evidence(args))
    elif args.command == "reconcile":
        await _reconcile(settings, args)
    elif args.command == "ml":
        await _ml(settings, args)
    elif args.command == "export":
        await _export(settings, args)
    elif args.command == "selfcheck":
        return await _selfcheck(settings, args)
    elif args.command == "pull":
        return await _pull(settings, args)
    return 0


async def _pull(settings: Settings, args: argparse.Namespace) -> int:
    """Exits 0 when the shop is caught up (or has more pages for the next run), 1 on any other outcome."""
    from sqlmodel import select

    from domain.pull.service import PullOutcome, enable_pull
    from domain.shops.models import Shop
    from runtime.channel_pull import shop_puller
    from runtime.process import build_runtime

    runtime = await build_runtime(settings)
    try:
        async with runtime.core.sessions() as session, session.begin():
            query = select(Shop).where(Shop.code == args.shop)
            if args.channel:
                query = query.where(Shop.channel == args.channel.strip().upper())
            shops = list((await session.exec(query)).all())
            if len(shops) != 1:
                found = ", ".join(f"{s.channel}/{s.code}" for s in shops) or "none"
                raise ValueError(f"--shop {args.shop!r}: expected one shop, found {found} (name it with --channel)")
            shop_id = shops[0].id
            assert shop_id is not None
            if args.enable or args.disable:
                await enable_pull(session, shop_id, enabled=bool(args.enable))
        if args.disable:
            print(f"pull disabled for {shops[0].channel}/{args.shop}")
            return 0
        run = await shop_puller(runtime).pull(shop_id)
    finally:
        await runtime.close()
    notes = f" ({'; '.join(run.notes)})" if run.notes else ""
    print(f"{shops[0].channel}/{args.shop}: {run.outcome} pages={run.pages} orders={run.orders} "
          f"applied={run.applied} rejected={run.rejected}{notes}")  # fmt: skip
    return 0 if run.outcome in (PullOutcome.CAUGHT_UP, PullOutcome.MORE_PAGES) else 1


async def _worker(settings: Settings, queues: list[str]) -> None:
    """Runs until SIGTERM or SIGINT, through Redis outages; then lets jobs in flight finish and the outbox
    drain, each for up to ORDERHUB_SHUTDOWN_GRACE_SECONDS."""
    import signal

    from runtime.metrics import enable as enable_metrics
    from runtime.metrics import process_ended
    from runtime.process import build_runtime
    from runtime.queues import QUEUES
    from runtime.tracing import start_tracing, stop_tracing
    from workers.heartbeat import Heartbeat
    from workers.settings import create_worker
    from workers.supervisor import Supervisor

    start_tracing("orderhub-worker")
    enable_metrics(settings.metrics_enabled)
    runtime = await build_runtime(settings, migrate=False)  # the start-up check migrated, if it may
    if settings.metrics_enabled and settings.metrics_worker_port is not None:
        from runtime.metrics_server import serve_metrics

        serve_metrics(settings.metrics_worker_port, settings, runtime.redis_url)
    heartbeat = Heartbeat(runtime, queues, lambda: supervisor.jobs_in_flight)
    supervisor = Supervisor(
        lambda queue: create_worker(runtime, queue, on_job_start=heartbeat.job_started),
        [QUEUES[name] for name in queues],
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    beating = asyncio.create_task(heartbeat.run())
    running = asyncio.create_task(supervisor.run())
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
        logging.getLogger("orderhub.worker").info("stopping: waiting for jobs in flight, then the outbox")
        await supervisor.stop(settings.shutdown_grace_seconds)
        await running
    finally:
        stopping.cancel()
        beating.cancel()
        await heartbeat.remove()
        await runtime.close()
        stop_tracing()
        process_ended(os.getpid())


async def _worker_check(settings: Settings, queues: list[str]) -> int:
    """For a process manager's probe: reads the heartbeats only, never the database."""
    from redis.asyncio import Redis

    from domain.clock import utcnow
    from runtime.heartbeat import check_workers, read_beats
    from runtime.process import resolve_redis

    url, embedded = resolve_redis(settings)
    client = Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
    try:
        beats = await read_beats(client, settings.pubsub_prefix)
    except Exception as exc:  # the probe answers one line whatever went wrong
        print(f"failed: Redis does not answer: {type(exc).__name__}: {exc}")
        return 1
    finally:
        await client.aclose()
        if embedded is not None:
            embedded.stop()
    result = check_workers(beats, queues, utcnow(), settings.worker_heartbeat_seconds)
    print(result.line)
    return 0 if result.ok else 1


async def _export(settings: Settings, args: argparse.Namespace) -> None:
    """Writes FILE.part and renames it when complete, so a stopped export never leaves a file that looks whole."""
    import os
    from pathlib import Path

    from domain.clock import utcnow
    from domain.errors import UserError
    from domain.health.export import OrderExport, parse_format, resolve_period
    from runtime.core import build_core

    problems = []
    try:
        fmt = parse_format(args.format)
    except UserError as error:
        problems += error.problems
    try:
        period = resolve_period(
            utcnow(), days=args.days, start=args.start, end=args.end, retention_days=settings.retention_days
        )
    except UserError as error:
        problems += error.problems
    if problems:
        raise ValueError("; ".join(f"--{p.field[0]}: {p.message} ({p.code})" for p in problems))
    export = OrderExport(period, fmt, settings.merchant_zone)
    to_stdout = args.output == "-"
    target = Path(args.output or export.filename)
    partial = target.with_name(target.name + ".part")
    core = await build_core(settings)
    out = sys.stdout.buffer if to_stdout else await asyncio.to_thread(partial.open, "wb")
    try:
        async with core.sessions() as session:
            async for chunk in export.chunks(session):
                await asyncio.to_thread(out.write, chunk)
        await asyncio.to_thread(out.flush)
        if not to_stdout:
            out.close()
            os.replace(partial, target)
    finally:
        if not to_stdout:
            out.close()
            partial.unlink(missing_ok=True)
        await core.close()
    where = "stdout" if to_stdout else str(target)
    span = f"{period.start.isoformat()} to {period.end.isoformat()}"
    if export.rows == 0:
        print(f"no orders placed from {span}: {where} has only the header row", file=sys.stderr)
    else:
        print(f"{export.rows} orders placed from {span} written to {where}", file=sys.stderr)


async def _selfcheck(settings: Settings, args: argparse.Namespace) -> int:
    """Exits 1 when a check fails or the ratio is over its limit, so a deploy script can stop on it."""
    from pathlib import Path

    from domain.clock import utcnow
    from domain.health.selfcheck import run_selfcheck
    from runtime.core import build_core
    from runtime.notifiers import alert_robots, probe_robots

    core = await build_core(settings)
    try:
        async with core.sessions() as session:
            robots = await alert_robots(core, session)
            report = await run_selfcheck(session, settings, utcnow(), lambda: probe_robots(robots))
    finally:
        await core.close()
    text = report.json() + "\n" if args.format == "json" else report.markdown()
    if args.output:
        await asyncio.to_thread(Path(args.output).write_text, text)
    print(text, end="")
    return 0 if not report.failed and report.shipped_without_tracking.healthy else 1


async def _ml(settings: Settings, args: argparse.Namespace) -> None:
    from ml.evaluate import evaluate
    from ml.eventlog import Columns, Event, load_csv

    events: list[Event]
    tz = settings.merchant_timezone if args.from_db else None
    if args.from_db:
        from ml.orders import order_event_log
        from runtime.core import build_core

        core = await build_core(settings)
        try:
            events = await order_event_log(core.sessions, since=args.since)
            if args.ml_command == "train":
                await _train_from_db(settings, args, core, events)
                return
        finally:
            await core.close()
    else:
        try:
            events = load_csv(args.event_log, Columns(args.case_col, args.activity_col, args.time_col, args.group_col))
        except OSError as exc:
            raise ValueError(f"--event-log: {exc}") from exc
    if args.ml_command == "train":
        from ml.registry import train

        decision = train(events, _models_dir(settings, args), unit=args.unit)
        _print_decision(decision)
        return
    report = evaluate(events, unit=args.unit, tz=tz)
    print(report.table())
    print(report.summary())


async def _train_from_db(settings: Settings, args: argparse.Namespace, core: Any, events: list[Any]) -> None:
    """Orderhub's own orders: the `next_step_model` table is the registry, as for the nightly job."""
    from domain.prediction.service import record_run, registry_index
    from ml.registry import train

    async with core.sessions() as session:
        index = await registry_index(session)
    decision = train(events, _models_dir(settings, args), args.unit, index=index, tz=settings.merchant_timezone)
    async with core.sessions() as session, session.begin():
        await record_run(session, decision.run)
    _print_decision(decision)


def _models_dir(settings: Settings, args: argparse.Namespace) -> Any:
    from pathlib import Path

    return Path(args.models_dir) if args.models_dir else settings.data_dir.resolve() / "models"


def _print_decision(decision: Any) -> None:
    if decision.report is not None:
        print(decision.report.table())
    print(f"model v{decision.version}: {decision.reason}" if decision.version else decision.reason)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a UTC offset, e.g. 2026-01-22T00:00:00+08:00")
    return moment


async def _replay(args: argparse.Namespace) -> int:
    import json

    from domain.channels.replay import replay
    from domain.errors import UserError
    from runtime.core import build_core

    settings = get_settings()
    core = await build_core(settings)
    try:
        async with core.sessions() as session:
            orders = None
            if args.apply:
                await session.begin()  # a unit of work: on SQLite it takes the write lock at once
                orders = core.channel_payloads().orders(session)
            try:
                items = await replay(session, core.vault, args.channel, args.start, args.end, orders=orders,
                                     actor="system:cli-replay")  # fmt: skip
            except UserError as error:
                raise ValueError(str(error)) from error
            if args.apply:
                await session.commit()
    finally:
        await core.close()
    for item in items:
        state = "applied" if item.applied else ("error" if item.error else "dry-run")
        change = json.dumps(item.diff, ensure_ascii=False) if item.diff else ("-" if item.stored else "new")
        print(f"#{item.message_id} {item.received_at.isoformat()} {state} {item.channel_order_id or '?'} {change}"
              + (f" supersedes {item.supersedes}" if item.supersedes else "")
              + (f" ({item.error})" if item.error else ""))  # fmt: skip
    changed = sum(1 for i in items if i.diff)
    superseding = sum(1 for i in items if i.supersedes)
    print(f"{len(items)} message(s), {changed} would change, {sum(i.applied for i in items)} applied, "
          f"{superseding} supersede an order")  # fmt: skip


async def _replay_evidence(args: argparse.Namespace) -> int:
    from api.graphql.fulfilment.replay import evidence_reader
    from api.graphql.schema import build_schema
    from domain.channels.upstream import UpstreamKind
    from domain.errors import UserError
    from domain.pipeline.evidence_replay import replay_evidence
    from runtime.core import build_core

    settings = get_settings()
    upstream = UpstreamKind.WAREHOUSE if args.warehouse else UpstreamKind.CARRIER
    read = evidence_reader(build_schema(settings))
    core = await build_core(settings)
    try:
        async with core.sessions() as session:
            if args.apply:
                await session.begin()
            try:
                window = (upstream, args.warehouse or args.carrier, args.start, args.end)
                items = await replay_evidence(
                    session, core.vault, read, *window, apply=args.apply, actor="system:cli-replay"
                )
            except UserError as error:
                raise ValueError(str(error)) from error
            if args.apply:
                await session.commit()
    finally:
        await core.close()
    for item in items:
        drift = "; ".join(f"{f.change} {f.path}" for f in item.findings) or "-"
        error = f" ({item.error})" if item.error else ""
        print(f"#{item.message_id} {item.received_at.isoformat()} {item.verdict.value} {item.event_key} "
              f"{item.order_reference} {item.outcome or '-'} drift: {drift}{error}")  # fmt: skip
    print(
        f"{len(items)} event(s), {sum(i.applied for i in items)} applied, "
        f"{sum(i.verdict.value == 'ON_FILE' for i in items)} on file"
    )
    return 0


async def _reconcile(settings: Settings, args: argparse.Namespace) -> None:
    """Statement errors are ValueErrors: main prints them (file, line, column) and exits 2."""
    from pathlib import Path

    from domain.i18n import render
    from domain.outbox.service import Outbox
    from domain.reconcile import layouts, service
    from runtime.core import build_core

    core = await build_core(settings)
    try:
        async with core.sessions() as session, session.begin():
            fresh = []
            for name in args.files:
                data = await asyncio.to_thread(Path(name).read_bytes)
                imported = await layouts.take_statement(
                    session, Path(name).name, data, provider=args.provider, uploaded_by="cli", vault=core.vault
                )
                if isinstance(imported, layouts.Held):
                    print(f"{name}: held, not imported ({imported.source}): {render(imported.reason)}")
                    continue
                state = "imported" if imported.is_new else "already imported (same content), not counted again"
                print(f"{name}: {imported.lines} lines, {state}")
                if imported.is_new:
                    fresh.append(imported.statement_id)
            runs = await service.reconcile(session, fresh, trigger="cli", outbox=Outbox())
        for run in runs:
            print(
                f"run {run.id} {run.provider}: {run.matched}/{run.statement_lines} matched "
                f"({service.match_rate(run):.2%}); to check: {dict(sorted(run.counts.items())) or 'nothing'}"
            )
    finally:
        await core.close()


async def _token(args: argparse.Namespace) -> None:
    from api.auth.tokens import issue_customer_token, issue_staff_token
    from domain.access.service import create_staff, issue_partner_key
    from runtime.core import build_core

    settings = get_settings()
    core = await build_core(settings)
    try:
        if args.kind == "customer":
            uid = args.uid
            if uid is None:
                key = core.identity.key_for_phone(args.phone)
                if key.uid is None:
                    raise ValueError(f"phone refused as an identity key: {key.problem}")
                uid = key.uid
            issued = issue_customer_token(settings.secret("token_secret"), uid, settings.customer_token_minutes)
            print(f"buyer uid:  {uid}\nexpires at: {issued.expires_at.isoformat()}\ntoken:      {issued.token}")
        elif args.kind == "partner":
            async with core.sessions() as session, session.begin():
                channels = None if args.all_channels else _split(args.channel)
                key_issued = await issue_partner_key(
                    session, args.name, _split(args.scopes), channels, actor=cli_actor()
                )
            served = ", ".join(key_issued.channels) if key_issued.channels is not None else "all"
            print(f"partner:  {key_issued.name}\nscopes:   {', '.join(key_issued.scopes)}\nchannels: {served}")
            print(f"api key:  {key_issued.key}")
            print("the key is shown once; orderhub stores only its hash")
        else:
            password = args.password or getpass.getpass("password (12+ characters): ")
            async with core.sessions() as session, session.begin():
                user = await create_staff(session, args.email, password, _split(args.roles), actor=cli_actor())
            assert user.id is not None
            issued = issue_staff_token(
                settings.secret("token_secret"), user.id, user.email, user.roles, settings.staff_token_minutes
            )
            print(f"staff:  {user.email} ({', '.join(user.roles)})\ntoken:  {issued.token}")
    finally:
        await core.close()


async def _staff(settings: Settings, args: argparse.Namespace) -> None:
    """Commits, then sends the revocation at once so that API processes close the account's websockets."""
    from domain.access.service import disable_staff, set_staff_roles
    from domain.outbox.service import Outbox
    from runtime.process import build_runtime

    runtime = await build_runtime(settings)
    try:
        async with runtime.core.sessions() as session, session.begin():
            if args.staff_command == "disable":
                user = await disable_staff(session, args.email, Outbox(), actor=cli_actor())
            else:
                user = await set_staff_roles(session, args.email, _split(args.roles), Outbox(), actor=cli_actor())
        await runtime.relay.drained()
    finally:
        await runtime.close()
    state = "disabled" if user.disabled_at is not None else "active"
    print(f"staff:  {user.email} ({', '.join(user.roles)}), {state}")


def cli_actor() -> str:
    """Who the admin log names for a change made here: the operating-system account that ran the command."""
    return f"cli:{getpass.getuser()}"


async def _keys(settings: Settings, args: argparse.Namespace) -> None:
    """The same domain calls as the API's admin mutations, so a change here is logged the same way."""
    from datetime import timedelta

    from domain.access.service import partner_keys, revoke_partner_key, rotate_partner_key
    from runtime.core import build_core

    core = await build_core(settings)
    try:
        async with core.sessions() as session, session.begin():
            if args.key_command == "list":
                listed, _ = await partner_keys(session, 100)
                for key in listed:
                    row, used = key.row, key.last_used_at.isoformat() if key.last_used_at else "never"
                    served = ",".join(row.channels) if row.channels is not None else "all"
                    print(f"{row.id}\t{row.name}\t...{row.last4}\t{','.join(row.scopes)}\t{served}\tlast used {used}")
            elif args.key_command == "rotate":
                overlap = timedelta(minutes=args.overlap_minutes)
                issued = await rotate_partner_key(session, args.id, actor=cli_actor(), overlap=overlap)
                print(f"partner:  {issued.name} (key {issued.id}, replaces key {args.id})\napi key:  {issued.key}")
                print("the key is shown once; orderhub stores only its hash")
            else:
                row = await revoke_partner_key(session, args.id, actor=cli_actor())
                print(f"partner key {row.id} ({row.name}, ...{row.last4}) revoked")
    finally:
        await core.close()


async def _admin_log(settings: Settings, limit: int) -> None:
    from domain.access.audit import entries
    from runtime.core import build_core

    core = await build_core(settings)
    try:
        async with core.sessions() as session:
            rows, _ = await entries(session, max(1, min(limit, 100)))
    finally:
        await core.close()
    for row in rows:
        print(f"{row.at.isoformat()}\t{row.actor}\t{row.action}\t{row.target}\t{row.details}")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def new_password() -> str:
    return secrets.token_urlsafe(18)


if __name__ == "__main__":
    sys.exit(main())
