"""The process's log lines: one JSON object per line, through structlog, for every logger.

The code logs with the standard library (`logging.getLogger`), and so do uvicorn, arq, SQLAlchemy and
alembic; structlog formats all of their records the same way at the one root handler, with what the
current context carries (the request id, the job) merged in. Nothing personal leaves: phone-like digits
are masked where a record is made (`install_log_masking`) and again in every value of the line here,
and a value whose key names a credential (token, secret, key, password, authorization) is replaced whole.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import structlog

from domain.identity.masking import install_log_masking, mask_phones
from domain.settings import Settings

REDACTED = "[redacted]"
_CREDENTIAL = re.compile(r"token|secret|password|passwd|authorization|api_?key|private|credential|cookie", re.I)
_HANDLER_MARK = "orderhub_handler"
QUIET = ("alembic", "httpx", "aiosqlite", "asyncio")


# Values orderhub itself makes, of digits that are no one's phone: an arq job id holds a timestamp.
OWN_KEYS = frozenset({"job_id", "job_try", "at"})
DROPPED_KEYS = ("color_message",)  # uvicorn's second copy of its message, with terminal colours


def redact(value: Any, key: str = "") -> Any:
    """A credential's value never shows; text anywhere else is masked, in nested values too."""
    if key in OWN_KEYS:
        return value
    if key and _CREDENTIAL.search(key):
        return REDACTED
    if isinstance(value, str):
        return mask_phones(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in DROPPED_KEYS:
        event.pop(key, None)
    for key, value in list(event.items()):
        if not key.startswith("_"):
            event[key] = redact(value, key)
    return event


def _json_formatter() -> logging.Formatter:
    pre_chain: list[Any] = [
        _merge_bound,
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="at"),
        structlog.stdlib.ExtraAdder(),
    ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact_event,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
    )


def configure_logging(settings: Settings, stream: Any = None) -> None:
    """Idempotent: the handler installed by an earlier call is replaced, not doubled. uvicorn must be run
    with `log_config=None` so that its loggers propagate here instead of keeping their own handlers."""
    install_log_masking()
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _HANDLER_MARK, False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_MARK, True)
    if settings.structured_logs:
        handler.setFormatter(_json_formatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for noisy in QUIET:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


_bound: ContextVar[dict[str, Any]] = ContextVar("orderhub_log_context", default={})  # noqa: B039 (never mutated)


def _merge_bound(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in _bound.get().items():
        event.setdefault(key, value)
    return event


@contextmanager
def bound(**values: Any) -> Iterator[None]:
    """Values every line logged inside carries (the request id, the job and its id). One context variable
    for all of them: bound once per request, where structlog's own would set one variable per key."""
    token = _bound.set({**_bound.get(), **values})
    try:
        yield
    finally:
        _bound.reset(token)
