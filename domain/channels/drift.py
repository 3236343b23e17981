"""Schema drift: the shape of a channel's payloads, learned from accepted ones, and what differs from it.

The shape is a flat map of field paths (`orders.order[].title`) to the JSON types seen there and,
for enum-like fields, the values seen. It is small enough to store as JSON and to read in a review.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

MAX_VALUES = 50
EXAMPLE_CHARS = 60
PERSONAL = re.compile(r"name|nick|tel|phone|mobile|addr|receiver|email|street|detail|postal|zip|city|town", re.I)
LONG_DIGITS = re.compile(r"\d{7,}")


class Change(StrEnum):
    NEW_FIELD = "NEW_FIELD"
    MISSING_FIELD = "MISSING_FIELD"
    TYPE_CHANGE = "TYPE_CHANGE"
    NEW_VALUE = "NEW_VALUE"


@dataclass(frozen=True)
class Finding:
    path: str
    change: Change
    detail: str
    example: str


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def walk(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) below an object; list entries share the path `field[]`."""
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path, value
            if isinstance(value, dict):
                yield from walk(value, path)
            elif isinstance(value, list):
                for entry in value:
                    yield f"{path}[]", entry
                    yield from walk(entry, f"{path}[]")


def is_enum(path: str, enum_paths: frozenset[str]) -> bool:
    """Adapter paths are relative to the order object; payloads may wrap it in an envelope."""
    return any(path == p or path.endswith("." + p) for p in enum_paths)


def learn(shape: dict[str, Any], payload: Any, enum_paths: frozenset[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {k: dict(v) for k, v in shape.get("fields", {}).items()}
    for path, value in walk(payload):
        entry = fields.setdefault(path, {"types": [], "seen": 0})
        kind = json_type(value)
        if kind not in entry["types"]:
            entry["types"] = sorted([*entry["types"], kind])
        entry["seen"] = entry["seen"] + 1
        if is_enum(path, enum_paths) and kind in ("string", "integer"):
            values = entry.get("values", [])
            if str(value) not in values and len(values) < MAX_VALUES:
                entry["values"] = sorted([*values, str(value)])
    return {"fields": fields, "samples": int(shape.get("samples", 0)) + 1}


def _known(path: str, known_values: Mapping[str, frozenset[str]]) -> frozenset[str]:
    return next((v for p, v in known_values.items() if path == p or path.endswith("." + p)), frozenset())


def compare(
    shape: dict[str, Any],
    payload: Any,
    enum_paths: frozenset[str],
    known_values: Mapping[str, frozenset[str]] | None = None,
) -> list[Finding]:
    fields: dict[str, Any] = shape.get("fields", {})
    samples = int(shape.get("samples", 0))
    found: dict[tuple[str, Change, str], Finding] = {}
    present: set[str] = set()
    for path, value in walk(payload):
        present.add(path)
        entry = fields.get(path)
        kind = json_type(value)
        if entry is None:
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            if parent and parent not in fields:
                continue  # reported once, at the new object's own path
            key = (path, Change.NEW_FIELD, kind)
        elif kind not in entry["types"] and kind != "null":
            key = (path, Change.TYPE_CHANGE, f"{'/'.join(entry['types'])} -> {kind}")
        elif (
            is_enum(path, enum_paths)
            and "values" in entry
            and str(value) not in entry["values"]
            and str(value) not in _known(path, known_values or {})
        ):
            key = (path, Change.NEW_VALUE, str(value)[:100])
        else:
            continue
        found.setdefault(key, Finding(path, key[1], key[2], redact(path, value)))
    for path, entry in fields.items():
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        if entry["seen"] >= samples and "[]" not in path and path not in present and (not parent or parent in present):
            found.setdefault((path, Change.MISSING_FIELD, ""), Finding(path, Change.MISSING_FIELD, "", "(absent)"))
    return list(found.values())


def redact(path: str, value: Any) -> str:
    """An example a support engineer may read: structure and codes, never a person's details."""
    if isinstance(value, dict):
        return "{…}"
    if isinstance(value, list):
        return f"[{len(value)} entries]"
    text = str(value) if not isinstance(value, str) else value
    leaf = path.rsplit(".", 1)[-1]
    if PERSONAL.search(leaf) and isinstance(value, str | int) and not isinstance(value, bool):
        return (text[:1] + "***") if text else ""
    text = LONG_DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 5) + m.group()[-2:], text)
    return (f'"{text}"' if isinstance(value, str) else text)[:EXAMPLE_CHARS]
