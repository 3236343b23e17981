"""One settings object for every process, read from ORDERHUB_* environment variables."""

from __future__ import annotations

import json
import secrets
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.clock import zone
from domain.datadir import private_dir, write_private_text

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDERHUB_", extra="ignore")

    # "production" refuses to start on generated or default secrets; so does any PostgreSQL database.
    environment: Literal["development", "production"] = "development"
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
    # Customer sign-in (domain/signin): a short access token, a rotating refresh token per sign-in.
    customer_access_minutes: int = 15
    customer_refresh_days: int = 30
    # How long a process trusts that a customer sign-in is not revoked; the revoking process forgets at
    # once and open websockets close at once (pub/sub), other processes' requests follow within this.
    customer_session_check_seconds: float = 2
    signin_code_seconds: int = 300
    signin_code_attempts: int = 5
    # Sign-in code requests: per phone (1 a minute, 5 an hour) and per client address (an hour);
    # sign-in attempts of any kind per client address (a minute).
    signin_codes_per_phone_minute: int = 1
    signin_codes_per_phone_hour: int = 5
    signin_codes_per_address_hour: int = 30
    signin_attempts_per_address_minute: int = 30
    signin_provider_timeout_seconds: float = 5
    # WeChat mini-program login (jscode2session); the base URL is a setting so tests talk to a local server.
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_mini_appid: str | None = None
    wechat_mini_secret: SecretStr | None = None
    # The SMS provider for sign-in codes: "aliyun" (Alibaba Cloud SendSms) or "tencent" (Tencent Cloud SendSms).
    sms_provider: Literal["aliyun", "tencent"] | None = None
    aliyun_sms_base: str = "https://dysmsapi.aliyuncs.com"
    aliyun_access_key_id: str | None = None
    aliyun_access_key_secret: SecretStr | None = None
    aliyun_sms_sign_name: str | None = None
    aliyun_sms_template_code: str | None = None
    tencent_sms_base: str = "https://sms.tencentcloudapi.com"
    tencent_secret_id: str | None = None
    tencent_secret_key: SecretStr | None = None
    tencent_sms_region: str = "ap-guangzhou"
    tencent_sms_sdk_app_id: str | None = None
    tencent_sms_sign_name: str | None = None
    tencent_sms_template_id: str | None = None
    payment_deadline_minutes: int = 30
    outbox_grace_seconds: int = 30
    # How long a graceful stop waits for jobs in flight (worker) and then for the outbox to drain.
    shutdown_grace_seconds: float = 10.0
    # Off, `serve` and `worker` refuse to start on a database behind the code: `orderhub migrate` is a release
    # step, run once, instead of every process racing to migrate at start.
    migrate_on_start: bool = True
    # How often a worker writes its heartbeat to Redis; one older than three beats counts as a dead worker.
    worker_heartbeat_seconds: float = 10.0
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
    # Hosts ("name" or "name:port") a robot set from the console may point at besides DingTalk's and WeCom's own,
    # over http too: a local fake robot in tests and demos. Robots set in the environment are not checked.
    alert_robot_extra_hosts: list[str] = []
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
    merchant_language: str = "zh-CN"  # human text when neither a staff account nor a request chose (zh-CN, en)
    # The merchant's clock (IANA zone): every hour and day orderhub groups by, every schedule and every time
    # shown to people. Values in the API and the database stay UTC.
    merchant_timezone: str = "Asia/Shanghai"
    reconcile_hour: int = 9  # the daily reconciliation, on the merchant's clock
    training_hour: int = 2  # the nightly next-step model training (at :40), on the merchant's clock
    # Channel open platforms orderhub calls (shipment confirmation): one base URL each, so tests and the demo
    # point them at local fake servers.
    taobao_api_url: str = "https://eco.taobao.com"
    douyin_api_url: str = "https://openapi-fxg.jinritemai.com"
    wechat_api_url: str = "https://api.weixin.qq.com"
    amazon_api_url: str = "https://sellingpartnerapi-fe.amazon.com"
    channel_call_timeout_seconds: float = 10.0
    # A confirmation the channel keeps failing (5xx, 429, timeouts) is tried this often, backing off from
    # `confirmation_backoff_seconds` doubling up to the cap, then opens SHIPMENT_NOT_CONFIRMED.
    confirmation_max_attempts: int = 8
    confirmation_backoff_seconds: float = 30.0
    confirmation_backoff_cap_seconds: float = 3600.0
    # Channel pull (shops without a bridge): each window starts `pull_overlap_seconds` before the checkpoint, a
    # shop pulled for the first time starts `pull_initial_lookback_hours` back, and one run walks at most
    # `pull_max_pages` pages. A throttled or failing call is tried `pull_max_attempts` times, backing off from
    # `pull_backoff_seconds` doubling up to the cap (Retry-After wins when longer); then the run stops and the
    # next one resumes from the checkpoint.
    pull_overlap_seconds: int = 300
    pull_initial_lookback_hours: int = 24
    pull_page_size: int = 100
    pull_max_pages: int = 20
    pull_max_attempts: int = 4
    pull_backoff_seconds: float = 2.0
    pull_backoff_cap_seconds: float = 30.0
    # The longest period a health report or an order export may cover.
    retention_days: int = 366
    # One computation of a period's health metrics answers every staff member asking for the same within this
    # many seconds of it (0: each request computes its own).
    health_shared_seconds: float = 30.0
    # Offline pushes to buyers' apps through JPush REST v3 (api.jpush.cn; bjapi.push.jiguang.cn for Beijing apps).
    jpush_base_url: str = "https://api.jpush.cn"
    jpush_app_key: str | None = None
    jpush_master_secret: SecretStr | None = None
    jpush_apns_production: bool = False
    push_time_to_live_seconds: int = 86_400  # how long JPush keeps a push for a device that is offline
    push_timeout_seconds: float = 10.0
    # Quiet hours on the merchant's clock (merchant_timezone): pushes wait for their end. Equal times: none.
    push_quiet_start: time = time(22, 0)
    push_quiet_end: time = time(8, 0)
    # A new predicted time this far from the last one is pushed to the buyer.
    push_eta_moved_minutes: int = 60
    # Fair use: each partner key spends its queries' cost points from a bucket of this size, refilled at this
    # rate and shared by every API process through Redis. A bucket of 0 turns the limit off.
    partner_cost_bucket: int = 5_000
    partner_cost_restore_per_second: int = 250
    # Partner webhooks: each attempt's timeout, how many attempts run at once per endpoint and worker process,
    # the backoff (full jitter between 1 s and base * 2^attempt, capped) and how long a delivery is retried.
    webhook_timeout_seconds: float = 10.0
    webhook_endpoint_concurrency: int = 8
    webhook_backoff_base_seconds: float = 5.0
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_retry_hours: float = 24.0
    # An endpoint is switched off (and the group chats told) once every attempt failed for this long, and
    # at least this many in a row.
    webhook_disable_after_hours: float = 24.0
    webhook_disable_after_failures: int = 20
    # How long both secrets sign after a rotation, unless the rotation says otherwise.
    webhook_secret_overlap_hours: float = 24.0
    # How long the outbox relay trusts its list of endpoints: a new subscription hears events committed this
    # much after it was registered.
    webhook_subscriptions_cache_seconds: float = 1.0
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

    @property
    def merchant_zone(self) -> ZoneInfo:
        return zone(self.merchant_timezone)

    @property
    def is_production(self) -> bool:
        """A PostgreSQL database is a deployment, not a laptop, even when nobody said so."""
        return self.environment == "production" or self.resolved_database_url().startswith("postgresql")

    def secret(self, name: str) -> str:
        """Secrets missing from the environment come from a file in the data directory.

        The embedded default must run with nothing configured, yet the identity key must
        never live in the database: a generated key kept beside it, outside it, does both.
        """
        configured: SecretStr | None = getattr(self, name)
        if configured is not None:
            return configured.get_secret_value()
        return _local_secrets(self.data_dir.resolve())[name]


SECRET_NAMES = ("identity_key", "token_secret", "vault_key")


@lru_cache
def _local_secrets(data_dir: Path) -> dict[str, str]:
    path = private_dir(data_dir, narrow=True) / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    missing = [name for name in SECRET_NAMES if name not in stored]
    if missing:
        stored.update({name: secrets.token_urlsafe(32) for name in missing})
        write_private_text(path, json.dumps(stored, indent=2))
    return stored


@lru_cache
def get_settings() -> Settings:
    return Settings()
