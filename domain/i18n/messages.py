"""A human-facing sentence as its catalog key and parameters, rendered in a language when someone reads it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Message:
    """`id` is the English text with `{name}` placeholders (the catalog key). `str()` gives the English,
    which is what records and logs keep: whoever reads them later reads them in their own language."""

    id: str
    params: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return format_text(self.id, {k: str(v) if isinstance(v, Message) else v for k, v in self.params.items()})

    def __hash__(self) -> int:
        return hash((self.id, tuple(sorted((k, str(v)) for k, v in self.params.items()))))


def msg(id: str, /, **params: Any) -> Message:
    """A sentence kept unrendered. The first argument must be a literal: it is what the catalogs list."""
    return Message(id, params)


def format_text(template: str, params: dict[str, Any]) -> str:
    """str.format with named placeholders; `{{`/`}}` are literal braces, as in the catalogs' python-brace-format."""
    return template.format(**params)
