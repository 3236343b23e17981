"""Every GraphQL body is capped while it is read, whoever sends it: customers, staff and anonymous
callers as partners are, with a larger cap for multipart uploads (bank statements)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from runtime.process import Runtime
from tests.conftest import Api, Credentials

UPLOAD = "mutation Up($input: UploadStatementInput!) { uploadStatement(input: $input) { userErrors { code } } }"


@pytest.fixture
async def capped(api: Api) -> AsyncIterator[Api]:
    """Caps of 1,000 bytes for a JSON body and 4,000 for a multipart one, so no test needs megabytes."""
    core = api.runtime.core
    original = core.settings
    core.settings = original.model_copy(update={"max_body_bytes": 1000, "max_upload_bytes": 4000})
    yield api
    core.settings = original


def _caller(name: str, rt: Runtime, creds: Credentials) -> dict[str, str]:
    return {"customer": creds.customer(rt, "a" * 64), "staff": creds.cs, "anonymous": {}}[name]


def _assert_too_large(response: httpx.Response, size: int, limit: int) -> None:
    assert response.status_code == 413, response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert error["message"] == f"body of {size} bytes exceeds the limit of {limit}"


@pytest.mark.parametrize("caller", ["customer", "staff", "anonymous"])
async def test_graphql_body_over_the_cap_is_413_for_every_caller(capped: Api, creds: Credentials, caller: str) -> None:
    headers = _caller(caller, capped.runtime, creds)
    small = await capped.client.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
    assert small.status_code == 200 and small.json()["data"] == {"__typename": "Query"}
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * 5000}}).encode()
    large = await capped.client.post("/graphql", content=body, headers={**headers, "Content-Type": "application/json"})
    _assert_too_large(large, len(body), 1000)


async def test_body_without_a_length_is_counted_as_it_streams(capped: Api) -> None:
    parts = [b'{"query": "{ __typename }", "variables": {"pad": "', *[b"x" * 500] * 10, b'"}}']

    async def chunks() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    response = await capped.client.post("/graphql", content=chunks(), headers={"Content-Type": "application/json"})
    assert "content-length" not in response.request.headers
    _assert_too_large(response, sum(map(len, parts)), 1000)


async def _upload(api: Api, headers: dict[str, str], data: bytes) -> httpx.Response:
    operations = {"query": UPLOAD, "variables": {"input": {"file": None}}}
    return await api.client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": ("statement.csv", data, "text/csv")},
        headers={**headers, "Apollo-Require-Preflight": "true"},
    )


async def test_multipart_upload_has_its_own_larger_cap(capped: Api, creds: Credentials) -> None:
    under = await _upload(capped, creds.admin, b"x" * 2000)  # over the JSON cap, under the upload cap
    assert under.status_code == 200, under.text
    assert "uploadStatement" in under.json()["data"]
    over = await _upload(capped, creds.admin, b"x" * 5000)
    assert over.status_code == 413
    assert over.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert "exceeds the limit of 4000" in over.json()["errors"][0]["message"]


async def test_upload_declared_past_its_cap_is_refused_before_it_is_read(capped: Api, creds: Credentials) -> None:
    pulled = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal pulled
        for _ in range(5):
            pulled += 1
            yield b"x" * 1000

    headers = {
        **creds.admin,
        "Apollo-Require-Preflight": "true",
        "Content-Type": "multipart/form-data; boundary=cap",
        "Content-Length": "200000000",
    }
    response = await capped.client.post("/graphql", content=chunks(), headers=headers)
    _assert_too_large(response, 200_000_000, 4000)
    assert pulled == 0
