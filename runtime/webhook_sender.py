"""Posts signed webhook deliveries to partner endpoints, each endpoint within its own concurrency limit.

One httpx client per process, redirects not followed (the registered URL is the endpoint; a redirect is
recorded as a failure), a timeout on every attempt. Each endpoint gets at most `per_endpoint` attempts at once in
a process: an attempt for an endpoint at its limit does not wait for a slot but is handed back (`None`) so its
worker slot serves another endpoint. A slow or dead endpoint thus holds a few slots, never all of them.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict

import httpx

from domain.clock import utcnow
from domain.webhooks.deliveries import AttemptResult, Claimed
from domain.webhooks.signing import signed_headers

READ_BODY = 4096  # bytes of a response read (and a part of it logged); a partner's page cannot fill our memory


class WebhookSender:
    def __init__(self, timeout_s: float, per_endpoint: int) -> None:
        self.timeout_s = timeout_s
        self.per_endpoint = per_endpoint
        self.client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=100),
            headers={"user-agent": "orderhub-webhooks/1"},
        )
        self._busy: defaultdict[int, int] = defaultdict(int)  # attempts posting or waiting to, per endpoint
        self._gates: dict[int, asyncio.Semaphore] = {}

    def has_room(self, endpoint_id: int) -> bool:
        return self._busy[endpoint_id] < self.per_endpoint

    async def post(self, endpoint_id: int, claimed: Claimed) -> AttemptResult:
        """Never raises for what the endpoint does: a timeout, a refused connection or a redirect is a result.
        Waits while the endpoint has `per_endpoint` attempts in flight (the rest of one job's batch)."""
        self._busy[endpoint_id] += 1
        try:
            async with self._gates.setdefault(endpoint_id, asyncio.Semaphore(self.per_endpoint)):
                return await self._post(claimed)
        finally:
            self._busy[endpoint_id] -= 1

    async def _post(self, claimed: Claimed) -> AttemptResult:
        started, clock = utcnow(), time.perf_counter()
        headers = signed_headers(claimed.signing_secrets, claimed.message_id, started, claimed.body)
        try:
            async with asyncio.timeout(self.timeout_s):  # the whole exchange, not each read: a trickle times out
                async with self.client.stream("POST", claimed.url, content=claimed.body, headers=headers) as answer:
                    body = await _head_of(answer)
            error = None
            if answer.is_redirect:
                error = f"redirect to {answer.headers.get('location', '?')} not followed"
            elif not answer.is_success:
                error = f"HTTP {answer.status_code}"
            return AttemptResult(started, _ms(clock), answer.status_code, body, error)
        except TimeoutError:
            return AttemptResult(started, _ms(clock), error=f"timed out after {self.timeout_s:g} s")
        except httpx.TimeoutException as exc:
            return AttemptResult(
                started, _ms(clock), error=f"timed out after {self.timeout_s:g} s ({type(exc).__name__})"
            )
        except httpx.HTTPError as exc:
            return AttemptResult(started, _ms(clock), error=f"{type(exc).__name__}: {exc}"[:500])

    async def close(self) -> None:
        await self.client.aclose()


async def _head_of(answer: httpx.Response) -> str:
    read = b""
    async for chunk in answer.aiter_bytes():
        read += chunk
        if len(read) >= READ_BODY:
            break
    return read[:READ_BODY].decode(errors="replace")


def _ms(since: float) -> int:
    return int((time.perf_counter() - since) * 1000)
