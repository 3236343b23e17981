"""The decision lines orderhub writes into an order's system log, kept twice in the event's data: the English,
status codes and all, under `decision`, as webhooks, exports and machine readers have always read it; and the
sentence under `decision_sentence`, the statuses named by the flow's labels, so that staff read the log in their
own language. Events written before the sentence was kept read as their English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.fulfilment.journey import STEP_LABEL
from domain.i18n import Message
from domain.i18n.stored import render_stored, stored
from domain.orders.status import OrderStatus

ENGLISH = "decision"
SENTENCE = "decision_sentence"


def logged(decision: Message) -> dict[str, Any]:
    """The decision as an event's data keeps it: its English (statuses as codes) and its sentence beside it."""
    return {ENGLISH: str(decision), SENTENCE: stored(labelled(decision))}


def labelled(decision: Message) -> Message:
    """The sentence a reader gets: each status the decision names (an `OrderStatus` parameter) as its label."""
    return Message(decision.id, {name: _label(value) for name, value in decision.params.items()})


def decision_of(data: Mapping[str, Any]) -> str | None:
    """A system-log entry's decision in the reader's language; its English as written when no sentence was kept."""
    english = data.get(ENGLISH)
    if english is None:
        return None
    return render_stored(data.get(SENTENCE), str(english))


def _label(value: Any) -> Any:
    if isinstance(value, OrderStatus):
        return STEP_LABEL[value]
    if isinstance(value, Message):
        return labelled(value)
    return str(value) if isinstance(value, str) else value  # an enum's code, as JSON keeps it
