"""Sends signed channel calls over HTTP: one pooled httpx client per process, every failure turned into an answer.

The signing and the reading of answers are the channels' own (domain/channels/<channel>_api.py); this only
carries bytes, so the channel pull and the shipment confirmation share it."""

from __future__ import annotations

import httpx

from domain.confirmations.answer import Answer, Reply, SignedRequest, Verdict, clip, timeout_answer, unreachable_answer


class ChannelCalls:
    def __init__(self, timeout_seconds: float, max_connections: int = 50) -> None:
        self.timeout_seconds = timeout_seconds
        self._limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:  # made on first use, inside the event loop that uses it
            self._client = httpx.AsyncClient(limits=self._limits, timeout=self.timeout_seconds)
        return self._client

    async def send(self, base_url: str, request: SignedRequest, timeout_seconds: float | None = None) -> Reply | Answer:
        """The channel's reply, or the answer for a call that got none: a timeout, a refused connection, or a
        reply cut short (the peer closed before the body it announced)."""
        timeout = self.timeout_seconds if timeout_seconds is None else timeout_seconds
        try:
            response = await self.client.request(
                request.method,
                base_url.rstrip("/") + request.path,
                params=list(request.params),
                headers=dict(request.headers),
                content=request.body,
                timeout=timeout,
            )
        except httpx.TimeoutException:
            return timeout_answer(timeout)
        except httpx.RemoteProtocolError as exc:
            return Answer(Verdict.TRANSIENT, "TRUNCATED_ANSWER", clip(exc))
        except httpx.HTTPError as exc:
            return unreachable_answer(f"{type(exc).__name__}: {exc}")
        headers = {name.lower(): value for name, value in response.headers.items()}
        return Reply(response.status_code, headers, response.content)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
