"""The `orderhub` command issues working credentials."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ORDERHUB_")}
    return {**clean, "ORDERHUB_DATA_DIR": str(tmp_path / "data")}


def test_migrate_and_tokens_on_the_embedded_default(env: dict[str, str], tmp_path: Path) -> None:
    assert "latest schema" in run(["migrate"], env)
    assert (tmp_path / "data" / "orderhub.db").exists()
    partner = run(
        ["token", "partner", "--name", "douyin-bridge", "--scopes", "orders:write", "--channel", "douyin"], env
    )
    assert "channels: DOUYIN" in partner
    key = next(line.split()[-1] for line in partner.splitlines() if line.startswith("api key:"))
    assert key.startswith("ohk_")
    assert key.encode() not in (tmp_path / "data" / "orderhub.db").read_bytes()
    customer = run(["token", "customer", "--phone", "+86 138 1234 5678"], env)
    assert "buyer uid:" in customer and "13812345678" not in customer
    staff = run(
        ["token", "staff", "--email", "ops@shop.example", "--roles", "ops", "--password", "a long passphrase"], env
    )
    assert "ops@shop.example (ops)" in staff
    disabled = run(["staff", "disable", "--email", "OPS@shop.example"], env)
    assert "ops@shop.example (ops), disabled" in disabled
    listed = run(["keys", "list"], env)  # the same domain code as the API's admin mutations
    assert f"...{key[-4:]}" in listed and "douyin-bridge" in listed and key not in listed
    assert "revoked" in run(["keys", "revoke", "--id", listed.split()[0]], env)
    log = run(["admin-log"], env)
    actions = [line.split("\t")[2] for line in log.splitlines()]
    assert actions == ["PARTNER_KEY_REVOKED", "STAFF_DISABLED", "STAFF_CREATED", "PARTNER_KEY_ISSUED"]
    assert all(line.split("\t")[1].startswith("cli:") for line in log.splitlines()) and key not in log
    data = tmp_path / "data"
    assert data.stat().st_mode & 0o777 == 0o700
    files = [p for p in data.rglob("*") if p.is_file()]
    assert {"secrets.json", "orderhub.db"} <= {p.name for p in files}
    assert {p.name: p.stat().st_mode & 0o777 for p in files} == {p.name: 0o600 for p in files}
    assert all(p.stat().st_mode & 0o777 == 0o700 for p in data.rglob("*") if p.is_dir())


def test_bad_scope_is_refused_with_a_clear_message(env: dict[str, str]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "token",
            "partner",
            "--name",
            "x",
            "--scopes",
            "orders:delete",
            "--all-channels",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "unknown scopes: orders:delete" in result.stderr


def test_database_url_setting_is_honoured(env: dict[str, str]) -> None:
    bad = {**env, "ORDERHUB_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/none"}
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "migrate"], env=bad, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "127.0.0.1" in result.stderr or "Connect" in result.stderr


def test_reconcile_a_statement_file_once(env: dict[str, str], tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sim.statements import BillRow, wechat_trade_bill

    bill = tmp_path / "wx-20261124.csv"
    bill.write_bytes(wechat_trade_bill([BillRow(datetime(2026, 11, 24, 4, tzinfo=UTC), "W1", "T1", "PAYMENT", 8000)]))
    first = run(["reconcile", str(bill)], env)
    assert "1 lines, imported" in first and "0/1 matched" in first and "'MISSING_IN_SYSTEM': 1" in first
    assert "already imported" in run(["reconcile", str(bill)], env)
    broken = tmp_path / "broken.csv"
    broken.write_bytes(bill.read_bytes().replace(b"`80.00", b"`8O.00", 1))
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "reconcile", str(broken)], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 2 and "broken.csv, line 2, column 应结订单金额" in result.stderr
