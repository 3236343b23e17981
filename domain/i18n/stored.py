"""A sentence kept in a row: its key and parameters as JSON, so the row stays language-neutral and each reader
gets it in their own language; the English (`str(message)`) is kept beside it for exports, webhooks and logs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from domain.i18n.catalogs import render
from domain.i18n.messages import Message, msg

KEY = "message"


def stored(message: Message) -> dict[str, Any]:
    """{"message": key, "params": {...}}; a parameter that is itself a message is kept the same way, any other
    that JSON cannot hold as it is (a number, a string) is kept as its text."""
    return {KEY: message.id, "params": {name: _value(value) for name, value in message.params.items()}}


def restored(value: object) -> Message | None:
    """The message a `stored()` dict holds, or None for anything else (rows written before it was kept)."""
    if not isinstance(value, dict) or not isinstance(value.get(KEY), str):
        return None
    params = value.get("params")
    if not isinstance(params, dict):
        return None
    return Message(value[KEY], {str(k): restored(v) or v for k, v in params.items()})


def render_stored(value: object, fallback: str) -> str:
    """The stored sentence in the reader's language; the fallback text as it is when none was stored."""
    message = restored(value)
    return fallback if message is None else render(message)


def stored_sentences(**texts: Message | str | None) -> dict[str, Any] | None:
    """For a row's `sentences` column: each text that is a message, stored under the name of the column that keeps
    its English. None when every text is plain (a channel's or a person's own words), so that writing a plain text
    over a sentence also forgets the sentence."""
    found = {name: stored(text) for name, text in texts.items() if isinstance(text, Message)}
    return found or None


def render_sentence(sentences: dict[str, Any] | None, name: str, english: str) -> str:
    """A text column of a row in the reader's language: from its `sentences` when the sentence was stored there,
    else the column as written (rows from before, a channel's own words)."""
    return render_stored((sentences or {}).get(name), english)


def joined(sentences: Sequence[Message]) -> Message | None:
    """Several sentences as one message, each language separating them its own way; None for none."""
    if not sentences:
        return None
    whole = sentences[0]
    for later in sentences[1:]:
        whole = msg("{earlier}; {later}", earlier=whole, later=later)
    return whole


def _value(value: Any) -> Any:
    if isinstance(value, Message):
        return stored(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
