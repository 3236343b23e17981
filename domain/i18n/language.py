"""Which language the work at hand speaks: set once at the edge, read wherever text is rendered."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

LANGUAGES = ("zh-CN", "en")
"""BCP 47 tags, as the API and Accept-Language spell them; the catalog folder is the tag with `_` (zh_CN)."""
DEFAULT_LANGUAGE = "zh-CN"

_current: ContextVar[str] = ContextVar("orderhub_language", default=DEFAULT_LANGUAGE)


def current_language() -> str:
    return _current.get()


@contextmanager
def use_language(language: str) -> Iterator[None]:
    token = _current.set(supported(language) or DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _current.reset(token)


def supported(tag: str | None) -> str | None:
    """The language of ours a tag asks for: `zh`, `zh-Hans`, `zh-cn` -> zh-CN; `en-GB` -> en; else None."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return {"zh": "zh-CN", "en": "en"}.get(primary)


def negotiate(accept_language: str | None) -> str | None:
    """The first of our languages in an Accept-Language header, by its q weights; None when it names none."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _sep, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _eq, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        language = supported(tag)
        if language is not None and weight > 0:
            ranked.append((-weight, position, language))
    return min(ranked)[2] if ranked else None
