"""Every sentence the code shows people is in every language's catalog, translated, with the same placeholders."""

from __future__ import annotations

import ast
import re

import pytest

from cli.messages import PYTHON_SOURCES, ROOT, SCRIPT_SOURCES, entries, extracted, placeholders
from domain.i18n import LANGUAGES, Message, msg, negotiate, tr, translate, use_language
from domain.i18n.catalogs import folder


@pytest.fixture(scope="module")
def named() -> dict[str, list[str]]:
    return extracted()


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_sentence_is_translated(named: dict[str, list[str]], language: str) -> None:
    have = entries(language)
    lacking = [f"{m!r} ({named[m][0]})" for m in sorted(named) if not have.get(m, ("", ""))[0]]
    assert not lacking, f"{language} lacks (run `orderhub messages --into AREA`):\n" + "\n".join(lacking)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = [
        f"{m!r} -> {s!r} ({f})" for m, (s, f) in entries(language).items() if s and placeholders(s) != placeholders(m)
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_sentence_is_listed_twice(language: str) -> None:
    seen: dict[str, str] = {}
    twice = []
    for path in sorted(folder(language).glob("*.po")):
        for message_id in re.findall(r'^msgid "(.+)"$', path.read_text(encoding="utf-8"), flags=re.M):
            if message_id in seen:
                twice.append(f"{message_id!r}: {seen[message_id]} and {path.name}")
            seen[message_id] = path.name
    assert not twice, "\n".join(twice)


def _calls(tree: ast.AST) -> list[ast.Call]:
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("msg", "tr")
    ]


def test_python_names_sentences_by_literal() -> None:
    """A computed key (an f-string, a variable) cannot be listed in a catalog: it would show untranslated."""
    wrong = []
    for directory in PYTHON_SOURCES:
        for path in sorted((ROOT / directory).rglob("*.py")):
            for call in _calls(ast.parse(path.read_text(encoding="utf-8"))):
                first = call.args[0] if call.args else None
                if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                    wrong.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    assert not wrong, "msg()/tr() need a literal first argument:\n" + "\n".join(wrong)


def test_scripts_name_sentences_by_literal() -> None:
    wrong = []
    for directory in SCRIPT_SOURCES:
        for path in sorted((ROOT / directory).rglob("*.js")):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for match in re.finditer(r"(?<![\w.$])(?<!function )t\(\s*(.)", line):
                    if match.group(1) not in "\"'":
                        wrong.append(f"{path.relative_to(ROOT)}:{number}")
    assert not wrong, "t() needs a quoted literal first argument:\n" + "\n".join(wrong)


def test_rendering_follows_the_language_of_the_work() -> None:
    probe = next(iter(entries("zh-CN").items()), None)
    if probe is None:
        pytest.skip("no catalog entries yet")
    message_id, (chinese, _file) = probe
    params = {name: 1 for name in placeholders(message_id)}
    assert translate(msg(message_id, **params), "en") == message_id.format(**params)
    with use_language("zh-CN"):
        assert tr(message_id, **params) == chinese.format(**params)
    with use_language("en"):
        assert tr(message_id, **params) == message_id.format(**params)
    assert str(Message(message_id, params)) == message_id.format(**params)


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-GB,en;q=0.9", "en"),
        ("fr-FR, en;q=0.5, zh;q=0.7", "zh-CN"),
        ("zh-Hans;q=0, en", "en"),
        ("fr", None),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_picks_our_language(header: str | None, language: str | None) -> None:
    assert negotiate(header) == language
