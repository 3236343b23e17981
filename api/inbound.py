"""HTTP bodies read for the record stage: capped while read, and checked before a parser sees them.

A sender's body is read only up to `ORDERHUB_MAX_BODY_BYTES`: a 50 MB request is never held in
memory, its first bytes are recorded with its true size and it is answered 413. A GraphQL request's
JSON is checked here, with the reason recorded, because the parsers behind us answer 500 on input
that is not their business (nesting deeper than the recursion limit, an integer literal of more
than 4,300 digits, a body that is a bare string).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse

from api.graphql.errors import summary
from api.observe import note_message
from domain.pipeline.message import Message
from runtime.process import Runtime


class BodyTooLarge(Exception):
    """A GraphQL body past its cap, whoever sent it: answered 413 with a GraphQL error. The reason
    is worded as the record stage stores it."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"body of {size} bytes exceeds the limit of {limit}")


async def too_large_response(_request: Request, exc: Exception) -> JSONResponse:
    error = {"message": str(exc), "extensions": {"code": "PAYLOAD_TOO_LARGE"}}
    return JSONResponse({"errors": [error]}, status_code=413)


@dataclass(frozen=True)
class Body:
    head: bytes  # the whole body, or its first `limit` bytes
    size: int

    @property
    def complete(self) -> bool:
        return self.size == len(self.head)


async def read_body(request: Request, limit: int) -> Body:
    """The body up to `limit`; past it, the declared length is believed, else the rest is counted unkept.

    A complete body is left on the request, so that a later `request.body()` reads it again.
    """
    chunks: list[bytes] = []
    kept = 0
    async for chunk in request.stream():
        if kept + len(chunk) > limit:
            chunks.append(chunk[: limit - kept])
            return Body(b"".join(chunks), await _whole_size(request, kept + len(chunk)))
        chunks.append(chunk)
        kept += len(chunk)
    head = b"".join(chunks)
    request._body = head  # starlette's own cache of a read body
    return Body(head, len(head))


def declared_size(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isdigit() and len(declared) < 19 else None


async def _whole_size(request: Request, seen: int) -> int:
    declared = declared_size(request)
    if declared is not None and declared >= seen:
        return declared
    async for chunk in request.stream():
        seen += len(chunk)
    return seen


def decode_json(body: bytes) -> tuple[object, str | None]:
    """(value, None), or (None, the reason it is not JSON that Python can hold)."""
    try:
        return json.loads(body), None
    except UnicodeDecodeError as exc:
        return None, f"body is not UTF-8: {exc}"
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        return None, f"JSON not accepted: {str(exc).split(';')[0]}"
    except RecursionError:
        return None, "JSON nested too deeply"


def _type(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def graphql_request_problem(body: bytes) -> str | None:
    """Why a JSON body is not one GraphQL request ({"query", "variables", "operationName", "extensions"})."""
    data, problem = decode_json(body)
    if problem is not None:
        return problem
    if not isinstance(data, dict):
        return f"the request must be a JSON object, got {_type(data)}"
    if not isinstance(data.get("query"), str) or not data["query"].strip():
        return "the request has no query" if data.get("query") is None else "query must be a string"
    for name, expected in (("variables", dict), ("extensions", dict), ("operationName", str)):
        value = data.get(name)
        if value is not None and not isinstance(value, expected):
            return f"{name} must be {_type(expected())} or null, got {_type(value)}"
    return None


def new_message(runtime: Runtime) -> Message:
    """A message received by this process: its commits wake the outbox relay, and its refusals are worded as
    the sender reads them (GraphQL spelling)."""
    message = runtime.core.message(after_commit=runtime.relay.notify, describe=summary)
    note_message(message)
    return message
