"""One settings object for every process, read from ORDERHUB_* environment variables."""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.datadir import private_dir, write_private_text

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERHUB_", extra="ignore")

    data_dir: Path = Path(".orderhub")
    database_url: str | None = None
    redis_url: str | None = None
    identity_key: SecretStr | None = None
    identity_key_version: int = 1
    identity_previous_key: SecretStr | None = None
    phone_region: str = "CN"
    merge_window_seconds: int = 300
    suggestion_window_hours: int = 72
    token_secret: SecretStr | None = None
    vault_key: SecretStr | None = None
    customer_token_minutes: int = 60 * 24
    staff_token_minutes: int = 60 * 8
    # How long a process trusts what it last read of a staff account: a disabled or demoted account
    # keeps its access at most this long (and its open websockets close on its next push or at once).
    staff_check_seconds: float = 5
    # Failed staff sign-ins allowed per minute for one account and for one client address.
    login_failures_per_account: int = 5
    login_failures_per_address: int = 20
    payment_deadline_minutes: int = 30
    outbox_grace_seconds: int = 30
    # How long a graceful stop waits for jobs in flight (worker) and then for the outbox to drain.
    shutdown_grace_seconds: float = 10.0
    stuck_after_ship_request_minutes: int = 240
    max_body_bytes: int = 2_000_000
    # Multipart GraphQL requests (staff uploading bank statements) may be larger than other bodies.
    max_upload_bytes: int = 200_000_000
    graphql_max_depth: int = 12
    graphql_max_aliases: int = 20
    graphql_max_tokens: int = 20_000
    graphql_max_cost: int = 5_000
    graphiql: bool = False  # GraphiQL and introspection; `orderhub demo` turns them on
    pubsub_prefix: str = "orderhub"  # Redis pub/sub channels are "<prefix>:<topic>": one per deployment
    show_operator_to_customers: bool = False  # whether customers see the warehouse operator's name
    cors_origins: list[str] = []
    push_queue_size: int = 256
    dingtalk_webhook: str | None = None
    dingtalk_secret: SecretStr | None = None
    wecom_webhook: str | None = None
    wechatpay_platform_public_key_path: Path | None = None
    wechatpay_platform_serial: str | None = None
    wechatpay_apiv3_key: SecretStr | None = None
    alipay_public_key_path: Path | None = None
    # Who this merchant is at each provider: when set, a notice naming another merchant or app is refused.
    wechatpay_mchid: str | None = None
    wechatpay_appid: str | None = None
    alipay_seller_id: str | None = None
    alipay_app_id: str | None = None
    # ORDERHUB_PAYMENT_WEBHOOK_SECRETS='{"stripe-cn": "..."}': one HMAC secret per generic provider.
    payment_webhook_secrets: dict[str, SecretStr] = {}
    notification_max_age_seconds: int = 300
    statement_dir: Path | None = None
    reconcile_timezone: str = "Asia/Shanghai"
    reconcile_hour: int = 9
    merchant_timezone: str = "Asia/Shanghai"  # the merchant's clock: health hours and days, shifts and cut-offs
    # The longest period a health report or an order export may cover.
    retention_days: int = 366
    # Operability. /metrics answers staff only on the API's port; with a metrics port set it is served
    # there instead, to anyone who can reach it (bind it to the scrapers' network), and the API's
    # /metrics is gone. `orderhub worker` serves its own metrics on metrics_worker_port when set.
    metrics_enabled: bool = True
    metrics_port: int | None = None
    metrics_worker_port: int | None = None
    log_level: str = "INFO"
    # One JSON object per line (false: the plain text lines of Python's logging, for a developer's terminal).
    structured_logs: bool = True

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in LOG_LEVELS:
            raise ValueError(f"ORDERHUB_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, not {value!r}")
        return level

    def resolved_database_url(self) -> str:
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{self.data_dir.resolve() / 'orderhub.db'}"
        url = self.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url

    def secret(self, name: str) -> str:
        """Secrets missing from the environment come from a file in the data directory.

        The embedded default must run with nothing configured, yet the identity key must
        never live in the database: a generated key kept beside it, outside it, does both.
        """
        configured: SecretStr | None = getattr(self, name)
        if configured is not None:
            return configured.get_secret_value()
        return _local_secrets(self.data_dir.resolve())[name]


_SECRET_NAMES = ("identity_key", "token_secret", "vault_key")


@lru_cache
def _local_secrets(data_dir: Path) -> dict[str, str]:
    path = private_dir(data_dir, narrow=True) / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in _SECRET_NAMES if name not in stored]
    if missing:
        stored.update({name: secrets.token_urlsafe(32) for name in missing})
        write_private_text(path, json.dumps(stored, indent=2))
    return stored


@lru_cache
def get_settings() -> Settings:
    return Settings()
