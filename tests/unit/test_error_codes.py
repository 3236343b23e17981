"""Error codes are defined once, in the domain area that raises them, and mapped once to `userErrors`."""

from __future__ import annotations

import ast
import inspect
from enum import Enum
from pathlib import Path

import pytest

import domain
from api.graphql.errors import area_code, field_path, summary, user_errors
from domain.access.errors import AccessErrorCode, StaffLoginErrorCode
from domain.channels.errors import IntakeErrorCode
from domain.errors import CommonCode, ErrorCode, Problem
from domain.fulfilment.errors import FulfilmentErrorCode
from domain.health.errors import ExportErrorCode, HealthErrorCode
from domain.i18n import msg, translate, use_language
from domain.identity.errors import IdentityErrorCode
from domain.ledger.errors import MoneyErrorCode
from domain.orders.errors import OrderErrorCode
from domain.push.errors import PushErrorCode
from domain.shops.errors import ShopErrorCode
from domain.signin.errors import SignInErrorCode
from domain.webhooks.errors import WebhookErrorCode

DOMAIN = Path(inspect.getfile(domain)).parent

AREAS: dict[str, type[ErrorCode]] = {
    "access": AccessErrorCode,
    "channels": IntakeErrorCode,
    "fulfilment": FulfilmentErrorCode,
    "health": HealthErrorCode,
    "identity": IdentityErrorCode,
    "intake": IntakeErrorCode,
    "ledger": MoneyErrorCode,
    "orders": OrderErrorCode,
    "push": PushErrorCode,
    "reconcile": MoneyErrorCode,
    "signin": SignInErrorCode,
    "webhooks": WebhookErrorCode,
    "shops": ShopErrorCode,
}
"""The enum each domain package raises its codes from; CommonCode is for the rules every area shares."""

MODULES: dict[str, type[ErrorCode]] = {
    "health/export.py": ExportErrorCode,
    "pipeline/submit.py": OrderErrorCode,
    "pipeline/channel.py": IntakeErrorCode,
    "pipeline/evidence_replay.py": IntakeErrorCode,
    "pipeline/evidence.py": FulfilmentErrorCode,
    "pipeline/payment.py": MoneyErrorCode,
}
"""Modules that report to another audience than their package's GraphQL area (a pipeline handler reports to
the area of the message it handles)."""

ENUMS = {e.__name__: e for e in (CommonCode, *AREAS.values(), *MODULES.values(), StaffLoginErrorCode)}
CODE_ARGUMENT = {"Problem": 2, "add": 2, "one": 2, "MoneyError": 1, "TransitionRefused": 1}


def _sources() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(DOMAIN)), ast.parse(p.read_text())) for p in sorted(DOMAIN.rglob("*.py"))]


def _code_arguments(tree: ast.Module) -> list[ast.expr]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func).rsplit(".", 1)[-1]
            position = CODE_ARGUMENT.get(name)
            if position is not None and len(node.args) > position:
                found.append(node.args[position])
            found += [k.value for k in node.keywords if k.arg == "code"]
    return found


def test_every_code_the_domain_raises_is_an_enum_member_not_text() -> None:
    literal = [
        f"{path}:{arg.lineno} {arg.value!r}"
        for path, tree in _sources()
        for arg in _code_arguments(tree)
        if isinstance(arg, ast.Constant)
    ]
    assert literal == []


def test_every_code_the_domain_raises_is_in_its_areas_enum() -> None:
    wrong = []
    for path, tree in _sources():
        if path.endswith("errors.py"):
            continue
        package = path.split("/")[0] if "/" in path else None  # top-level modules are shared: CommonCode only
        own = MODULES.get(path) or (AREAS.get(package) if package else None)
        allowed = {CommonCode} | ({own} if own else set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ENUMS:
                enum = ENUMS[node.value.id]
                if enum not in allowed or node.attr not in enum.__members__:
                    wrong.append(f"{path}:{node.lineno} {enum.__name__}.{node.attr}")
    assert wrong == []


def test_every_area_enum_is_known_here() -> None:
    """A new area's enum must be listed above, so the test above checks its package."""
    defined = {
        node.name
        for _, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and any(ast.unparse(b) == "ErrorCode" for b in node.bases)
    }
    assert defined == set(ENUMS)


@pytest.mark.parametrize(
    "codes", sorted(set(AREAS.values()) - {AccessErrorCode}, key=lambda e: e.__name__), ids=lambda e: e.__name__
)
def test_a_code_an_area_does_not_list_is_reported_as_invalid(codes: type[ErrorCode]) -> None:
    assert area_code(codes, CommonCode.CURRENCY_MISMATCH) is codes["INVALID"]
    listed = next(iter(codes))
    assert area_code(codes, listed) is listed


def test_a_shared_code_maps_by_value() -> None:
    assert area_code(HealthErrorCode, CommonCode.TOO_LONG) is HealthErrorCode.TOO_LONG
    assert area_code(IntakeErrorCode, OrderErrorCode.ORDER_LOCKED) is IntakeErrorCode.ORDER_LOCKED


def test_the_graphql_enums_are_the_domain_enums() -> None:
    from api.graphql.fulfilment.types import FulfilmentErrorCode as FulfilmentGraphQL
    from api.graphql.health.types import HealthErrorCode as HealthGraphQL
    from api.graphql.identity.types import IdentityErrorCode as IdentityGraphQL
    from api.graphql.intake.types import IntakeErrorCode as IntakeGraphQL
    from api.graphql.money.types import MoneyErrorCode as MoneyGraphQL
    from api.graphql.orders.types import OrderErrorCode as OrderGraphQL
    from api.graphql.shops.types import ShopErrorCode as ShopGraphQL
    from api.graphql.staff.types import StaffLoginErrorCode as StaffGraphQL

    assert HealthGraphQL is HealthErrorCode
    assert IdentityGraphQL is IdentityErrorCode
    assert MoneyGraphQL is MoneyErrorCode
    assert StaffGraphQL is StaffLoginErrorCode
    assert OrderGraphQL is OrderErrorCode
    assert IntakeGraphQL is IntakeErrorCode
    assert FulfilmentGraphQL is FulfilmentErrorCode
    from api.graphql.webhooks.types import WebhookErrorCode as WebhookGraphQL

    assert WebhookGraphQL is WebhookErrorCode
    assert ShopGraphQL is ShopErrorCode


@pytest.mark.parametrize(
    ("prefix", "path", "expected"),
    [
        (("input",), ("orders", 1, "channel_order_id"), ["input", "orders", "1", "channelOrderId"]),
        (("input",), ("currency",), ["input", "currencyCode"]),
        (("input",), ("attribution", "utm_source"), ["input", "attribution", "utmSource"]),
        (("input",), ("payload", "data", "shop_order_detail"), ["input", "payload", "data", "shop_order_detail"]),
        ((), ("voucherId",), ["voucherId"]),
    ],
)
def test_field_names_are_spelled_the_graphql_way_once(
    prefix: tuple[str, ...], path: tuple[str | int, ...], expected: list[str]
) -> None:
    assert field_path(prefix, Problem(path, msg("required"), CommonCode.INVALID_TIME)) == expected


def test_one_mapping_builds_every_areas_entries() -> None:
    class Entry:
        def __init__(self, field: list[str] | None, message: str, code: Enum) -> None:
            self.field, self.message, self.code = field, message, code

    problems = [Problem(("order_id",), msg("no such order"), FulfilmentErrorCode.NOT_FOUND)]
    with use_language("en"):
        [entry] = user_errors(Entry, HealthErrorCode, problems)
    assert (entry.field, entry.message, entry.code) == (
        ["input", "orderId"],
        "no such order",
        HealthErrorCode.NOT_FOUND,
    )
    with use_language("zh-CN"):
        [entry] = user_errors(Entry, HealthErrorCode, problems)
    assert entry.message == translate(msg("no such order"), "zh-CN") != "no such order"


def test_a_rejected_message_is_recorded_in_graphql_spelling() -> None:
    problems = [
        Problem(("orders", 0, "channel_order_id"), msg("channel order id is required"), OrderErrorCode.REQUIRED),
        Problem(
            ("orders", 0, "currency"),
            msg("{code} is not an ISO 4217 currency code", code=repr("RMB")),
            CommonCode.INVALID_CURRENCY,
        ),
    ]
    assert summary(problems) == (
        "orders.0.channelOrderId: channel order id is required (REQUIRED); "
        "orders.0.currencyCode: 'RMB' is not an ISO 4217 currency code (INVALID_CURRENCY)"
    )
