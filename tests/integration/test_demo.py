"""`orderhub demo` end to end on the embedded default: SQLite, embedded Redis, real HTTP."""

from __future__ import annotations

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
    result = subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "--orders", "400", "--no-serve", "--port", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    pairs = re.findall(r"^\s+([A-Z_]+)\s+(\d+) / (\d+)$", out, re.MULTILINE)
    assert len(pairs) == 8  # five channels, three statuses
    assert all(seen == expected for _, seen, expected in pairs), pairs
    pending = dict((name, int(seen)) for name, seen, _ in pairs)["PENDING_PAYMENT"]
    assert f"worker: {pending} unpaid orders flagged" in out
    assert "plaintext phone numbers found in the database file: 0" in out
    assert "REJECTED': 5" in out
    assert re.search(r"customer token:\s+Authorization: Bearer \S+\.\S+\.\S+", out)
    assert "GraphiQL:" in out
    assert not (tmp_path / "data" / "embedded-redis.json").exists()  # the embedded server was stopped
    identity = re.search(
        r"buyers seen raw: (\d+) channel accounts -> after identity: (\d+) buyer UIDs"
        r" \(truth: (\d+) people, (\d+) known",
        out,
    )
    assert identity, out[-2000:]
    accounts, uids, people, hidden = map(int, identity.groups())
    assert uids == people - hidden < accounts
    groups = re.search(
        r"groups formed: (\d+) parent orders over (\d+) duplicate orders \(simulated: (\d+) bursts.*, (\d+) orders\)",
        out,
    )
    assert groups and groups.group(1) == groups.group(3) and groups.group(2) == groups.group(4), out[-2000:]
    suggestions = re.search(r"suggestions raised: (\d+) for (\d+) masked-phone orders", out)
    assert suggestions and int(suggestions.group(1)) == int(suggestions.group(2)) - hidden
    assert re.search(r"heatmap \d{4}-\d\d-\d\d \d\dh \w+ +\d+/\d+ duplicates", out)
    _assert_no_phone_anywhere(tmp_path / "data", result.stdout + result.stderr)
    assert "Traceback" not in result.stderr  # no job failed, e.g. grouping and deadline jobs racing on one order


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
