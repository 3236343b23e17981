"""One settings object for every process, read from ORDERHUB_* environment variables."""

from __future__ import annotations

import json
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.datadir import private_dir, write_private_text


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
    # Payment queries (runtime/payment_queries.py): asking the provider about a payment we have no voucher for.
    wechatpay_api_url: str = "https://api.mch.weixin.qq.com"
    wechatpay_merchant_key_path: Path | None = None  # the merchant API private key that signs requests
    wechatpay_merchant_serial: str | None = None  # that key's certificate serial number
    alipay_gateway_url: str = "https://openapi.alipay.com/gateway.do"
    alipay_app_private_key_path: Path | None = None
    # Which provider takes each channel's payments, with the channel order number as its out_trade_no.
    payment_query_channels: dict[str, str] = {
        "TAOBAO": "alipay", "TMALL": "alipay", "WECHAT_MINI": "wechatpay", "WECHAT_CHANNELS": "wechatpay",
    }  # fmt: skip
    payment_query_after_minutes: int = 15  # a paid order without a voucher this long is asked about
    payment_query_window_hours: int = 72  # orders paid longer ago are left to reconciliation
    payment_query_attempts: int = 5  # questions per gap, at most one per `after_minutes`
    payment_query_timeout_seconds: float = 10.0
    # Courier tracking at Kuaidi100 (domain/fulfilment/kuaidi100.py): subscriptions out, pushes in.
    kuaidi100_poll_url: str = "https://poll.kuaidi100.com/poll"
    kuaidi100_key: SecretStr | None = None  # the account's authorization key
    kuaidi100_salt: SecretStr | None = None  # signs every push: sign = MD5(param + salt)
    kuaidi100_callback_url: str | None = None  # where Kuaidi100 reaches orderhub: https://<host>/couriers/kuaidi100
    # orderhub's carrier codes (as warehouses report them) -> Kuaidi100's company codes
    kuaidi100_companies: dict[str, str] = {
        "YTO": "yuantong", "ZTO": "zhongtong", "STO": "shentong", "YUNDA": "yunda", "SF": "shunfeng",
        "JD": "jd", "EMS": "ems", "JTSD": "jtexpress", "DBL": "debangkuaidi",
    }  # fmt: skip
    courier_subscribe_attempts: int = 5
    no_courier_record_minutes: int = 24 * 60  # a parcel out this long with no carrier event: NO_COURIER_RECORD; 0 off
    statement_dir: Path | None = None
    reconcile_timezone: str = "Asia/Shanghai"
    reconcile_hour: int = 9
    merchant_timezone: str = "Asia/Shanghai"  # the merchant's clock: health hours and days, shifts and cut-offs
    # The longest period a health report or an order export may cover.
    retention_days: int = 366

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
