"""Declarative cleaning rules, applied to a channel payload before its adapter reads it.

A path names fields with dots and walks every entry of a list with `[]`: `orders.order[].title`.
Rules are data (saved as JSON, versioned), so operations change what upstream quirks are undone
without a deploy, and every order records the rule version that cleaned it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.channels.errors import IntakeErrorCode
from domain.errors import Problems
from domain.i18n import msg

OPS = ("drop_if_equals", "drop", "rename", "strip_suffix", "map_values", "coerce", "trim")
COERCIONS = ("string", "integer", "decimal")
MAX_RULES = 50
ARGUMENTS = {
    "drop_if_equals": "value",
    "rename": "to",
    "strip_suffix": "suffix",
    "map_values": "mapping",
    "coerce": "to",
}


@dataclass(frozen=True)
class Rule:
    op: str
    path: tuple[str, ...]
    arg: Any = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"op": self.op, "path": ".".join(self.path)}
        if self.op in ARGUMENTS:
            data[ARGUMENTS[self.op]] = self.arg
        return data


def parse_rules(raw: Any, problems: Problems, at: tuple[str | int, ...] = ("rules",)) -> list[Rule]:
    if not isinstance(raw, list):
        problems.add(at, msg("expected a list of rules"), IntakeErrorCode.INVALID_RULE)
        return []
    if len(raw) > MAX_RULES:
        problems.add(at, msg("at most {max_rules} rules per set", max_rules=MAX_RULES), IntakeErrorCode.INVALID_RULE)
    rules = []
    for index, item in enumerate(raw[:MAX_RULES]):
        here = (*at, index)
        if not isinstance(item, Mapping):
            problems.add(here, msg("expected an object with op and path"), IntakeErrorCode.INVALID_RULE)
            continue
        rule = _parse_one(item, here, problems)
        if rule is not None:
            rules.append(rule)
    return rules


def _parse_one(item: Mapping[str, Any], at: tuple[str | int, ...], problems: Problems) -> Rule | None:
    op = item.get("op")
    if op not in OPS:
        problems.add(
            (*at, "op"),
            msg("unknown op {op}; known: {ops}", op=repr(op), ops=", ".join(OPS)),
            IntakeErrorCode.INVALID_RULE,
        )
        return None
    path_text = item.get("path")
    if not isinstance(path_text, str) or not path_text.strip() or any(not p for p in path_text.split(".")):
        problems.add(
            (*at, "path"),
            msg("expected a dotted field path such as orders.order[].title"),
            IntakeErrorCode.INVALID_RULE,
        )
        return None
    path = tuple(path_text.strip().split("."))
    if path[-1].endswith("[]"):
        problems.add((*at, "path"), msg("a path must end at a field, not a list"), IntakeErrorCode.INVALID_RULE)
        return None
    needs = ARGUMENTS
    if op in needs and needs[op] not in item:
        problems.add((*at, needs[op]), msg("{op} needs {needs}", op=op, needs=needs[op]), IntakeErrorCode.INVALID_RULE)
        return None
    arg = item.get(needs.get(op, ""))
    if op in ("rename", "strip_suffix") and (not isinstance(arg, str) or not arg):
        problems.add((*at, needs[op]), msg("expected a non-empty string"), IntakeErrorCode.INVALID_RULE)
        return None
    if op == "map_values" and not isinstance(arg, Mapping):
        problems.add(
            (*at, "mapping"), msg("expected an object of old value to new value"), IntakeErrorCode.INVALID_RULE
        )
        return None
    if op == "coerce" and arg not in COERCIONS:
        problems.add(
            (*at, "to"),
            msg("expected one of {coercions}", coercions=", ".join(COERCIONS)),
            IntakeErrorCode.INVALID_RULE,
        )
        return None
    return Rule(op, path, dict(arg) if isinstance(arg, Mapping) else arg)


def _parents(node: Any, path: tuple[str, ...]) -> Iterator[dict[str, Any]]:
    """Every object that holds the path's last field."""
    if not path[:-1]:
        if isinstance(node, dict):
            yield node
        return
    head, rest = path[0], path[1:]
    many = head.endswith("[]")
    child = node.get(head.removesuffix("[]")) if isinstance(node, dict) else None
    if many:
        for entry in child if isinstance(child, list) else []:
            yield from _parents(entry, rest)
    elif child is not None:
        yield from _parents(child, rest)


def _coerce(value: Any, to: str) -> Any:
    try:
        if to == "string":
            return value if isinstance(value, str) else str(value)
        if to == "integer":
            return value if isinstance(value, int) else int(Decimal(str(value)))
        return str(Decimal(str(value)))
    except (InvalidOperation, ValueError):
        return value  # left as it is: the adapter names the field if it cannot read it


def _apply_one(rule: Rule, holder: dict[str, Any]) -> None:
    name = rule.path[-1]
    if name not in holder:
        return
    value = holder[name]
    actions: dict[str, Callable[[], None]] = {
        "drop": lambda: holder.pop(name),
        "drop_if_equals": lambda: holder.pop(name) if value == rule.arg else None,
        "rename": lambda: holder.__setitem__(rule.arg, holder.pop(name)),
        "strip_suffix": lambda: (
            holder.__setitem__(name, value.removesuffix(rule.arg)) if isinstance(value, str) else None
        ),
        "map_values": lambda: holder.__setitem__(name, rule.arg[str(value)]) if str(value) in rule.arg else None,
        "coerce": lambda: holder.__setitem__(name, _coerce(value, rule.arg)),
        "trim": lambda: holder.__setitem__(name, value.strip()) if isinstance(value, str) else None,
    }
    actions[rule.op]()


def clean(rules: list[Rule], payload: Any) -> Any:
    """Returns a cleaned copy; the recorded payload is never changed."""
    if not rules:
        return payload
    result = copy.deepcopy(payload)
    for rule in rules:
        for holder in list(_parents(result, rule.path)):
            _apply_one(rule, holder)
    return result
