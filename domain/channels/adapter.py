"""What every channel adapter provides, and the one way a payload becomes a canonical order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems, UserError
from domain.i18n import msg
from domain.orders.channels import Channel
from domain.orders.commands import CanonicalOrder, OrderSubmission, validate_submission
from domain.orders.status import OrderStatus

Parse = Callable[[Mapping[str, Any], Problems], OrderSubmission | None]


@dataclass(frozen=True)
class Adapter:
    channel: Channel
    kind: str
    parse: Parse
    # Fields whose values form a closed set: a new value (a new status code) is drift worth an alert.
    enum_paths: frozenset[str]
    statuses: Mapping[str, OrderStatus]
    status_path: str = "status"

    def known_values(self) -> dict[str, frozenset[str]]:
        """Statuses the adapter maps are expected even before a sample shows them: no alert for those."""
        return {self.status_path: frozenset(self.statuses)}


def normalize(adapter: Adapter, payload: Any, channel: str | None = None) -> CanonicalOrder:
    """Raises UserError naming payload paths for shape problems, canonical paths for rule problems.

    `channel` is the channel the sender declared: Taobao and Tmall share one trade format."""
    problems = Problems()
    if not isinstance(payload, Mapping):
        raise UserError.one(
            ("payload",),
            msg("expected a JSON object, got {name}", name=type(payload).__name__),
            IntakeErrorCode.WRONG_SHAPE,
        )
    submission = adapter.parse(payload, problems)
    problems.raise_if_any()
    assert submission is not None
    if channel is not None:
        submission = replace(submission, channel=channel)
    canonical = validate_submission(submission, ("canonical",), problems)
    problems.raise_if_any()
    assert canonical is not None
    return canonical


def map_status(adapter: Adapter, raw: str, at: tuple[str | int, ...], problems: Problems) -> OrderStatus | None:
    status = adapter.statuses.get(raw)
    if status is None and raw:
        problems.add(
            at,
            msg("unknown {channel} status {raw}", channel=adapter.channel.value, raw=repr(raw)),
            IntakeErrorCode.UNKNOWN_STATUS,
        )
    return status
