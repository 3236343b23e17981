"""`orderhub demo` end to end on the embedded default: SQLite, embedded Redis, real HTTP."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
    money = out.split("== money:", 1)[1]
    out = out.split("== money:", 1)[0]
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
    drifts = re.findall(r"^\s+([A-Z_]+)\s+(\d+) / (\d+)$", money, re.MULTILINE)
    assert len(drifts) == 8 and all(seen == expected == "1" for _, seen, expected in drifts), drifts
    assert "double postings: 0" in money
    assert re.search(r"match rate: \d+\.\d\d% of \d+ statement lines", money)
    assert re.search(r"reversed duplicate notification \S+R: -\d+\.\d\d CNY", money)
