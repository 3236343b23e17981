"""Customer token exchanges per second: `issueCustomerToken` by phone through the whole API in process (HTTP
request, partner key, identity, a new sign-in and its refresh token written to PostgreSQL, the access token
signed), as a ratio to bare JWT signing of the same claims measured in the same run.

    python -m bench.signin [--quick] [--admin-url postgresql://postgres@127.0.0.1:5432/test]
                           [--redis-url redis://127.0.0.1:6379/11]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import redis.asyncio as aioredis
from sqlmodel import func, select

from api.app import create_app
from api.auth.tokens import decode_token, issue_customer_token
from bench.pgdb import DEFAULT_ADMIN_URL, server_version, sqlalchemy_url, temporary_database
from domain.access.service import issue_partner_key
from domain.db import migrate_async
from domain.settings import Settings
from domain.signin.models import CustomerSession
from runtime.process import build_runtime

CONCURRENCY = 8
EXCHANGE = """
mutation($input: IssueCustomerTokenInput!) {
  issueCustomerToken(input: $input) { tokens { accessToken refreshToken } userErrors { code } }
}
"""


def _phones(count: int, offset: int) -> list[str]:
    return [f"1391{offset + i:07d}" for i in range(count)]


def _floor(secret: str, count: int) -> float:
    """Signing alone: the same claims (a 64-hex UID and a sign-in id) with the same library and key."""
    uid, family = "a" * 64, "b" * 32
    started = time.perf_counter()
    for _ in range(count):
        issue_customer_token(secret, uid, 15, family)
    return count / (time.perf_counter() - started)


async def _exchanges(client: httpx.AsyncClient, key: str, phones: list[str]) -> tuple[float, list[str]]:
    queue = list(phones)
    tokens: list[str] = []
    failures: list[str] = []

    async def worker() -> None:
        while queue:
            phone = queue.pop()
            body = {"query": EXCHANGE, "variables": {"input": {"phone": phone}}}
            response = await client.post("/graphql", json=body, headers={"X-Api-Key": key})
            payload = response.json().get("data", {}).get("issueCustomerToken") if response.status_code == 200 else None
            if not payload or payload["userErrors"] or not payload["tokens"]:
                failures.append(f"{response.status_code} {response.text[:200]}")
            else:
                tokens.append(payload["tokens"]["accessToken"])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    elapsed = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} exchanges failed, first: {failures[0]}")
    return len(phones) / elapsed, tokens


async def run(admin_url: str, redis_url: str, quick: bool) -> dict[str, Any]:
    count = 400 if quick else 4_000
    flusher = aioredis.Redis.from_url(redis_url)
    await flusher.flushdb()
    async with temporary_database(admin_url) as url:
        await migrate_async(sqlalchemy_url(url))
        with tempfile.TemporaryDirectory() as data_dir:
            settings = Settings(
                data_dir=Path(data_dir),
                database_url=sqlalchemy_url(url),
                redis_url=redis_url,
                identity_key="bench-identity-key-0123456789abcdef",
                token_secret="bench-token-secret-0123456789abcdef",
                vault_key="bench-vault-key",
            )
            runtime = await build_runtime(settings, migrate=False)
            try:
                async with runtime.core.sessions() as session, session.begin():
                    key = (await issue_partner_key(session, "shop-app", ["customers:write"])).key
                app = create_app(runtime=runtime)
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://orderhub.bench") as client:
                    await _exchanges(client, key, _phones(100, 9_000_000))  # warm-up, untimed
                    floor = _floor(settings.secret("token_secret"), count * 5)
                    rate, tokens = await _exchanges(client, key, _phones(count, 0))
                secret = settings.secret("token_secret")
                uids = {str(decode_token(secret, t)["sub"]) for t in tokens}
                async with runtime.core.sessions() as session:
                    sessions = (await session.exec(select(func.count()).select_from(CustomerSession))).one()
            finally:
                await runtime.close()
        version = await server_version(url)
    await flusher.flushdb()
    await flusher.aclose()
    if len(uids) != count or sessions != count + 100:
        raise SystemExit(f"wrong work: {len(uids)} buyers for {count} phones, {sessions} sign-ins")
    return {
        "bench": "signin",
        "quick": quick,
        "exchanges": count,
        "concurrency": CONCURRENCY,
        "postgresql": version,
        "exchanges_per_s": round(rate, 1),
        "floor_per_s": round(floor),
        "ratio_to_floor": round(rate / floor, 5),
        "day": date.today().isoformat(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN_URL)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/11", help="flushed before and after")
    args = parser.parse_args()
    result = asyncio.run(run(args.admin_url, args.redis_url, args.quick))
    print(
        f"token exchanges: {result['exchanges_per_s']}/s; bare JWT signing: {result['floor_per_s']}/s; "
        f"ratio {result['ratio_to_floor']}",
        file=sys.stderr,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
