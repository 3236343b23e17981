"""The message catalogs: gettext .po files under locales/<lang>/, one file per area so each area's sentences
are kept (and reviewed) together; a language's catalog is all of its files."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po

from domain.i18n.language import current_language
from domain.i18n.messages import Message, format_text

LOCALES = Path(__file__).resolve().parent / "locales"


def folder(language: str) -> Path:
    return LOCALES / language.replace("-", "_")


@cache
def catalog(language: str) -> dict[str, str]:
    """msgid -> msgstr for every translated entry of the language's files."""
    entries: dict[str, str] = {}
    for path in sorted(folder(language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale=language.replace("-", "_")):
                if isinstance(message.id, str) and message.id and isinstance(message.string, str) and message.string:
                    entries[message.id] = message.string
    return entries


def translate(text: Message | str, language: str) -> str:
    """The message in the language, its parameters rendered too (a parameter may itself be a message). A key
    the catalog lacks shows as its English: the catalog test is what keeps that from happening."""
    if isinstance(text, str):
        return text
    template = catalog(language).get(text.id, text.id)
    params: dict[str, Any] = {
        name: translate(value, language) if isinstance(value, Message) else value for name, value in text.params.items()
    }
    return format_text(template, params)


def tr(id: str, /, **params: Any) -> str:
    """A sentence rendered now, in the language of the work at hand. The first argument must be a literal."""
    return translate(Message(id, params), current_language())


def render(text: Message | str) -> str:
    """A message in the language of the work at hand; text that is already text (a sender's own) as is."""
    return translate(text, current_language())
