"""Keeps the catalogs complete: lists the sentences the code names (Python `msg()`/`tr()`, the console's `t()`)
that a language's catalog lacks, and adds them to an area's .po file for a translator to fill in."""

from __future__ import annotations

import io
import re
from collections import defaultdict
from contextlib import redirect_stderr
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from domain.i18n.catalogs import folder
from domain.i18n.language import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
PYTHON_SOURCES = ("domain", "api", "runtime", "workers", "cli", "ml")
SCRIPT_SOURCES = ("api/console/static",)
KEYWORDS: dict[str, None] = {"msg": None, "tr": None, "t": None}
CATALOG_DATE = datetime(2026, 12, 7, tzinfo=UTC)  # fixed, so that adding sentences changes only their entries
PLACEHOLDER = re.compile(r"(?<!\{)\{([a-zA-Z_][a-zA-Z0-9_]*)\}(?!\})")


def extracted() -> dict[str, list[str]]:
    """Every sentence the code names -> where (path:line)."""
    found: dict[str, list[str]] = defaultdict(list)
    sources = [(d, [("**.py", "python")]) for d in PYTHON_SOURCES]
    sources += [(d, [("**.js", "javascript")]) for d in SCRIPT_SOURCES]
    for directory, method_map in sources:
        base = ROOT / directory
        if not base.is_dir():
            continue
        # babel warns of every f-string among a call's arguments; a parameter's value may well be one, and a
        # sentence named by anything but a literal is what tests/unit/test_catalogs.py refuses.
        with redirect_stderr(io.StringIO()):
            for filename, lineno, message, _comments, _context in extract_from_dir(
                str(base), method_map, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
            ):
                if isinstance(message, str) and message:
                    found[message].append(f"{directory}/{filename}:{lineno}")
    return dict(found)


def entries(language: str) -> dict[str, tuple[str, str]]:
    """msgid -> (msgstr, file) over the language's files."""
    out: dict[str, tuple[str, str]] = {}
    for path in sorted(folder(language).glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if isinstance(message.id, str) and message.id:
                    out[message.id] = (message.string if isinstance(message.string, str) else "", path.name)
    return out


def missing(language: str) -> list[str]:
    have = entries(language)
    return sorted(m for m in extracted() if not have.get(m, ("", ""))[0])


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def add_missing(into: str) -> dict[str, int]:
    """Appends every sentence a language lacks to locales/<lang>/<into>.po: English gets the key itself (the
    key is English), other languages an empty translation to fill in. Returns how many were added per language."""
    found = extracted()
    added: dict[str, int] = {}
    for language in LANGUAGES:
        have = entries(language)
        path = folder(language) / f"{into}.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = _read(path, language)
        count = 0
        for message_id in sorted(found):
            if message_id in have or catalog.get(message_id) is not None:
                continue
            string = message_id if language == "en" else ""
            flags = ("python-brace-format",) if placeholders(message_id) else ()
            catalog.add(message_id, string, flags=flags)
            count += 1
        _write(path, catalog)
        added[language] = count
    return added


def _read(path: Path, language: str) -> Catalog:
    if not path.exists():
        return Catalog(
            locale=language.replace("-", "_"),
            project="orderhub",
            version="1",
            language_team=f"orderhub {language}",
            creation_date=CATALOG_DATE,
            revision_date=CATALOG_DATE,
            fuzzy=False,
        )
    with path.open("rb") as handle:
        return read_po(handle)


def _write(path: Path, catalog: Catalog) -> None:
    with path.open("wb") as handle:
        write_po(handle, catalog, width=0, no_location=True, sort_output=False)
