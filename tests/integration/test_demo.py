"""`orderhub demo` end to end on the embedded default: SQLite, embedded Redis, real HTTP."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sim.day import generate_day
from sim.identity import generate_identity_traffic

ROOT = Path(__file__).parents[2]


def test_demo_day_matches_the_simulator(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    env["ORDERHUB_DATA_DIR"] = str(tmp_path / "data")
    env["ORDERHUB_LOG_LEVEL"] = "INFO"  # every request's access line and the jobs' lines, scanned below
    env["ORDERHUB_MERCHANT_LANGUAGE"] = "en"  # the narrative is English; its reports speak the merchant's language
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "demo", "--orders", "400", "--no-serve", "--port", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    full = result.stdout
    money, edges = full.split("== money:", 1)[1].split("== health:", 1)[0].split("== edges:", 1)
    health = full.split("== health:", 1)[1].split("== identity:", 1)[0]
    identity_section = full.split("== identity:", 1)[1].split("== upstreams:", 1)[0]
    out = full.split("== money:", 1)[0]
    pairs = re.findall(r"^\s+([A-Z_]+)\s+(\d+) / (\d+)$", out, re.MULTILINE)
    assert len(pairs) == 8 + 5  # five channels, three statuses, then five exception kinds of the fulfilment section
    assert all(seen == expected for _, seen, expected in pairs), pairs
    pending = dict((name, int(seen)) for name, seen, _ in pairs)["PENDING_PAYMENT"]
    fulfilment = out.split("== fulfilment:", 1)[1]
    clicked = int(re.search(r"click-driven status\s+(\d+)", fulfilment).group(1))  # type: ignore[union-attr]
    shipped, truth = re.search(r"physical evidence\)\s+(\d+) / (\d+)", fulfilment).groups()  # type: ignore[union-attr]
    assert shipped == truth and 0 < int(shipped) < clicked
    delivered, truth = re.search(r"signed for\)\s+(\d+) / (\d+)", fulfilment).groups()  # type: ignore[union-attr]
    assert delivered == truth
    kinds = dict((name, seen) for name, seen, _ in pairs[8:])
    assert set(kinds) == {"STUCK_AFTER_SHIP_REQUEST", "SCAN_BEFORE_REQUEST", "DUPLICATE_SCAN", "SUSPICIOUS_OUTBOUND",
                          "SHIPPED_WITHOUT_TRACKING"}  # fmt: skip
    assert int(kinds["STUCK_AFTER_SHIP_REQUEST"]) > 0
    assert re.search(r"^     \S+ \S+: (ship request|picked|packed) -> outbound: \d", fulfilment, re.MULTILINE)
    assert re.search(r"no courier record yet: \d+ \(NO_COURIER_RECORD opened\)", fulfilment)
    assert re.search(r"Kuaidi100 gave up on \S+ \(answered True\): the tracking aggregator gave up", fulfilment)
    assert "alipay reconciliation: 1 gap(s) closed by a signed query answer" in full  # the lost notification
    assert f"worker: {pending} unpaid orders flagged" in out
    assert "plaintext phone numbers found in the database file: 0" in out
    assert "REJECTED': 5" in out
    upstreams = full.split("== upstreams:", 1)[1].split("== try it", 1)[0]
    assert re.search(r"six-star mask \d{3}\*{6}\d{4}: 1 match suggestion", upstreams), upstreams
    assert re.search(r"GROUP-\d+ GROUP, .*LOGISTICS_ONLY.*GROUP_SOURCE; one invoice for 95.90 CNY", upstreams)
    assert "lianlian NEW_FIELD fee_amount: 2 notifications" in upstreams
    assert "statement held (bank-csv:upbank): layout changed:" in upstreams and "'memo' is gone" in upstreams
    try_it = full.split("== try it", 1)[1]  # last, so the credentials stay on screen while serving
    assert re.search(r"customer token:\s+Authorization: Bearer \S+\.\S+\.\S+", try_it)
    assert "GraphiQL:" in try_it
    assert "another buyer's order paid:  pushes received 0" in out
    assert re.search(r"snapshot first: [1-9]\d* of the buyer's orders", out)
    assert re.search(r"own order paid:\s+PENDING_PAYMENT -> PAID \(version \d+\), pushed \d+ ms", out)
    assert not (tmp_path / "data" / "embedded-redis.json").exists()  # the embedded server was stopped
    nextstep = out.split("== next step:", 1)[1].split("== channel intake", 1)[0]
    overall = re.search(r"^\s+all\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", nextstep, re.MULTILINE)
    assert overall is not None and float(overall.group(2)) < float(overall.group(3)), nextstep
    assert re.search(r"predictions stored by the worker after the fulfilment moves: [1-9]\d* orders", nextstep)
    assert re.search(r"next [A-Z_]+ at \d{4}-\d\d-\d\dT", nextstep)
    assert re.search(r"90% between \d{4}-\S+ and \d{4}-\S+,\n\s+(MODEL|BASELINE)", nextstep)
    intake = out[out.index("== channel intake") :]
    assert re.search(
        r"afternoon changes: \d+ payloads, [1-9]\d* refused \(kept raw\), [1-9]\d* order numbers ending", intake
    )
    for alert in ("NEW_FIELD     order.order_id_suffix", "NEW_VALUE     data.shop_order_detail.order_status 106",
                  "TYPE_CHANGE   order.order_detail.price_info.order_price integer -> string"):  # fmt: skip
        assert alert in intake
    assert re.search(r"replay dry run, AMAZON: \d+ messages, [1-9]\d* would change", intake)
    assert re.search(r'"channelOrderId": \["\d{3}-\d{7}-\d{7}-ERR", "\d{3}-\d{7}-\d{7}"\]', intake)
    assert re.search(r"replay applied, DOUYIN: [1-9]\d* refused payloads now accepted", intake)
    superseding = int(re.search(r"of which (\d+) name the sale differently", intake).group(1))
    assert superseding > 0
    assert (
        f"replay applied, AMAZON: {superseding} -ERR orders superseded by the right number; applied again: 0 more"
        in intake
    )
    assert re.search(r"after the rules: \d+ payloads, 0 refused, 0 order numbers ending in -ERR", intake)
    assert "payloads gained order.order_id_suffix on" in intake
    assert "rule v1 drops it when it is 'ERR'" in intake
    drifts = re.findall(r"^\s+([A-Z_]+)\s+(\d+) / (\d+)$", money, re.MULTILINE)
    assert len(drifts) == 8 and all(seen == expected == "1" for _, seen, expected in drifts), drifts
    assert "double postings: 0" in money
    assert re.search(r"match rate: \d+\.\d\d% of \d+ statement lines", money)
    assert re.search(r"reversed duplicate notification \S+R: -\d+\.\d\d CNY", money)
    kinds_opened = re.findall(r"voucher posted: yes; .*; exception (\w+)$", edges, re.MULTILINE)
    assert kinds_opened == ["PAYMENT_AMOUNT_MISMATCH", "PAYMENT_AMOUNT_MISMATCH", "PAYMENT_CURRENCY_MISMATCH",
                            "PAYMENT_ON_CLOSED_ORDER", "UNMATCHED_PAYMENT"], edges  # fmt: skip
    assert "orders paid with a wrong amount or currency: 0 of 4" in edges and "order PAID" not in edges
    assert len(re.findall(r"-> HTTP 4\d\d REJECTED \w", edges)) == 6, edges  # and the long key's first use APPLIED
    assert "5xx answers: 0, messages without an outcome: 0" in edges
    assert re.search(r"runs made: 1 \(lianlian.*\n.*answered: ALREADY_RECONCILING\n", edges), edges
    verdicts = re.findall(
        r"^   ([A-Za-z -]+?)\s+(\d+)/(\d+)\s+(\d+\.\d\d%|n/a)\s+healthy [<>] \d+\.\d\d%\s+(healthy|UNHEALTHY|no data)$",
        health,
        re.MULTILINE,
    )
    assert [v[0] for v in verdicts] == ["status drift rate", "channel attribution accuracy", "voucher match rate",
                                        "cross-system ID consistency", "exception closure rate"], health  # fmt: skip
    drift = verdicts[0]
    assert int(drift[1]) >= 6 and int(drift[2]) >= 400  # three withdrawn clicks, two flips each
    checks = re.search(r"self-check: .* (\d+) of 10 checks pass", health)
    assert checks and int(checks.group(1)) < 10, health  # the demo configures no alert robot, so one check fails
    report = (tmp_path / "data" / "selfcheck.md").read_text(encoding="utf-8")
    assert report.startswith("# orderhub self-check") and report.count("| FAIL |") == 10 - int(checks.group(1))
    assert re.search(r"console: http://127\.0\.0\.1:\d+/console#/health", health)
    identity = re.search(
        r"buyers seen raw: (\d+) channel accounts -> after identity: (\d+) buyer UIDs"
        r" \(truth: (\d+) people, (\d+) known",
        identity_section,
    )
    assert identity, identity_section
    accounts, uids, people, hidden = map(int, identity.groups())
    assert uids == people - hidden < accounts
    groups = re.search(
        r"groups formed: (\d+) parent orders over (\d+) duplicate orders \(simulated: (\d+) bursts.*, (\d+) orders\)",
        identity_section,
    )
    assert groups and groups.group(1) == groups.group(3) and groups.group(2) == groups.group(4), identity_section
    suggestions = re.search(r"suggestions raised: (\d+) for (\d+) masked-phone orders", identity_section)
    assert suggestions and int(suggestions.group(1)) == int(suggestions.group(2)) - hidden
    assert re.search(r"heatmap \d{4}-\d\d-\d\d \d\dh \w+ +\d+/\d+ duplicates", identity_section)
    signin = re.search(r"the buyer sees (\d+) order\(s\); refresh: ok; the same refresh token again: (\w+)", full)
    assert signin and int(signin.group(1)) > 0 and signin.group(2) == "REFRESH_TOKEN_REUSED", full[-2000:]
    _assert_no_phone_anywhere(tmp_path / "data", result.stdout + result.stderr)
    _assert_logs_are_json_without_credentials(tmp_path / "data", result.stdout, result.stderr)
    assert "Traceback" not in result.stderr  # no job failed, e.g. grouping and deadline jobs racing on one order


def _assert_logs_are_json_without_credentials(data_dir: Path, report: str, logs: str) -> None:
    """Every log line is one JSON object; none holds a key, a token or a secret of the run, not even the
    credentials the demo prints in its report for the person trying it."""
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert all(isinstance(line, dict) and {"event", "level", "logger", "at"} <= set(line) for line in lines)
    requests = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(requests) > 100 and all(re.fullmatch(r"[a-p]{32}", line["request_id"]) for line in requests)
    secrets = json.loads((data_dir / "secrets.json").read_text())
    printed = re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]+|ohk_[\w-]+", report)
    printed += re.findall(r"password (\S+): a demo account", report)  # the console's sign-in
    assert len(secrets) == 3 and len(printed) >= 3
    for credential in [*secrets.values(), *printed]:
        assert credential not in logs
    assert not re.search(r"eyJ[\w-]{10,}|ohk_|Bearer ", logs)


def _assert_no_phone_anywhere(data_dir: Path, logs: str) -> None:
    """Every phone of the run, in every form it was written, is absent from every stored file and the logs."""
    day = (datetime.now(UTC) - timedelta(days=1)).date()
    written = [o.buyer_phone for o in generate_day(7, day, 400).orders]
    traffic = generate_identity_traffic(7, day)
    written += [o.order.buyer_phone for o in traffic.orders if not o.masked]
    bare = {re.sub(r"\D", "", unicodedata.normalize("NFKC", w))[-11:] for w in written} | set(traffic.phones)
    forms = {f.encode() for f in bare | {"+86" + b for b in bare} | set(written)}
    assert len(bare) > 300
    stored = b"".join(path.read_bytes() for path in data_dir.rglob("*") if path.is_file())
    assert len(stored) > 100_000
    found = [form for form in forms if form in stored or form.decode() in logs]
    assert found == []
