"""Start-up refuses settings that would fail later or quietly misbehave, and names the variable to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.settings import Settings
from runtime.startup import settings_problems

PG = "postgresql://orderhub@db.internal/orderhub"
GOOD = "k" * 16 + "0123456789abcdef"  # 32 characters, not a known default


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(data_dir=tmp_path, **values)


def good_secrets() -> dict[str, str]:
    return {"identity_key": GOOD, "token_secret": GOOD + "t", "vault_key": GOOD + "v"}


def test_the_embedded_default_starts_with_nothing_configured(tmp_path: Path) -> None:
    assert settings_problems(settings(tmp_path)) == []


def test_a_postgresql_database_needs_every_secret_set(tmp_path: Path) -> None:
    problems = settings_problems(settings(tmp_path, database_url=PG, redis_url="redis://cache:6379/0"))
    assert len(problems) == 3
    for name in ("ORDERHUB_IDENTITY_KEY", "ORDERHUB_TOKEN_SECRET", "ORDERHUB_VAULT_KEY"):
        (problem,) = [p for p in problems if p.startswith(name)]
        assert "is not set" in problem and "PostgreSQL" in problem


def test_default_and_short_secrets_are_refused(tmp_path: Path) -> None:
    values = good_secrets() | {"token_secret": "changeme", "vault_key": "only-twenty-chars-xx"}
    problems = settings_problems(settings(tmp_path, database_url=PG, redis_url="redis://cache:6379/0", **values))
    assert problems == [
        "ORDERHUB_TOKEN_SECRET is a well-known default (a PostgreSQL database needs a secret set from outside)",
        "ORDERHUB_VAULT_KEY is shorter than 32 characters (a PostgreSQL database needs a secret set from outside)",
    ]


def test_production_on_sqlite_still_needs_secrets_and_a_shared_redis(tmp_path: Path) -> None:
    problems = settings_problems(settings(tmp_path, environment="production"))
    assert len(problems) == 4
    assert all("ORDERHUB_ENVIRONMENT=production" in p for p in problems)
    assert any(p.startswith("ORDERHUB_REDIS_URL is not set") for p in problems)


def test_production_with_everything_set_starts(tmp_path: Path) -> None:
    configured = settings(tmp_path, database_url=PG, redis_url="redis://cache:6379/0", **good_secrets())
    assert configured.is_production
    assert settings_problems(configured) == []


def test_time_zones_hour_and_heartbeat_are_checked(tmp_path: Path) -> None:
    problems = settings_problems(
        settings(
            tmp_path, merchant_timezone="Asia/Shanghia", reconcile_hour=24, training_hour=-1, worker_heartbeat_seconds=0
        )
    )
    assert problems == [
        "ORDERHUB_MERCHANT_TIMEZONE 'Asia/Shanghia' is not an IANA time zone (e.g. Asia/Shanghai)",
        "ORDERHUB_RECONCILE_HOUR 24 is not an hour of the day (0-23)",
        "ORDERHUB_TRAINING_HOUR -1 is not an hour of the day (0-23)",
        "ORDERHUB_WORKER_HEARTBEAT_SECONDS must be more than 0",
    ]


def test_the_retired_reconcile_timezone_may_not_disagree_with_the_merchants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERHUB_RECONCILE_TIMEZONE", "Asia/Shanghai")
    assert settings_problems(settings(tmp_path)) == []
    monkeypatch.setenv("ORDERHUB_RECONCILE_TIMEZONE", "Europe/Berlin")
    assert settings_problems(settings(tmp_path)) == [
        "ORDERHUB_RECONCILE_TIMEZONE (Europe/Berlin) is no longer read: reconciliation follows the merchant's clock, "
        "ORDERHUB_MERCHANT_TIMEZONE (Asia/Shanghai); set that one and remove this one"
    ]
