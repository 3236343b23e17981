"""A real uvicorn server for the app and a minimal graphql-transport-ws client, shared by push tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

PROTOCOL = "graphql-transport-ws"

ORDER_UPDATES = """
subscription($orderId: ID) {
  orderUpdates(orderId: $orderId) { eventId issuedAt version status snapshot order { id status buyerUid version } }
}
"""


@asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """The app in a real uvicorn server on a free localhost port; yields its ws:// URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(20):
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes only a flag)
                await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}/graphql"
    finally:
        server.should_exit = True
        await task


class GraphQLWs:
    """One graphql-transport-ws connection."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self._ids = 0

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str, payload: dict[str, Any] | None) -> AsyncIterator[GraphQLWs]:
        async with connect(url, subprotocols=[PROTOCOL], open_timeout=10) as socket:  # type: ignore[list-item]
            client = cls(socket)
            await client.send({"type": "connection_init", "payload": payload or {}})
            ack = await client.receive()
            assert ack["type"] == "connection_ack", ack
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        await self.socket.send(json.dumps(message))

    async def receive(self, wait_s: float = 10) -> dict[str, Any]:
        async with asyncio.timeout(wait_s):
            while True:
                message: dict[str, Any] = json.loads(await self.socket.recv())
                if message["type"] == "ping":
                    await self.send({"type": "pong"})
                    continue
                return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._ids += 1
        op = str(self._ids)
        await self.send({"id": op, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})
        return op

    async def next(self, op: str, wait_s: float = 10) -> dict[str, Any]:
        """The next result of operation `op`; fails on anything else for it."""
        while True:
            message = await self.receive(wait_s)
            if message.get("id") != op:
                continue
            assert message["type"] == "next", message
            payload: dict[str, Any] = message["payload"]
            return payload

    async def complete(self, op: str) -> None:
        await self.send({"id": op, "type": "complete"})
