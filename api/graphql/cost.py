"""Every query is priced before it runs: a connection multiplies its selection by its page size.

The price is static (a variable page size counts as the maximum), so it can be checked during
validation, before any resolver touches the database.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
)

from api.auth.cost_bucket import Spend
from api.graphql.pagination import MAX_PAGE
from domain.i18n import tr

MAX_MUTATIONS = 5


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    seen: frozenset[str] = frozenset(),
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += field_cost(selection, fragments, seen)
        elif isinstance(selection, InlineFragmentNode):
            total += selection_cost(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                total += selection_cost(fragments[name].selection_set, fragments, seen | {name})
    return total


def field_cost(node: FieldNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str]) -> int:
    if node.selection_set is None:
        return 0
    size = _page_size(node)
    inner = selection_cost(node.selection_set, fragments, seen)
    return 1 + (size * inner if size else inner)


def _page_size(node: FieldNode) -> int | None:
    for argument in node.arguments or ():
        if argument.name.value in ("first", "last"):
            value = argument.value
            size = int(value.value) if isinstance(value, IntValueNode) else MAX_PAGE
            return size if 1 <= size <= MAX_PAGE else MAX_PAGE
    return None


class CostRule(ValidationRule):
    limit = 5_000

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.fragments = {
            d.name.value: d for d in context.document.definitions if isinstance(d, FragmentDefinitionNode)
        }

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        cost = selection_cost(node.selection_set, self.fragments)
        if cost > self.limit:
            self.report_error(
                GraphQLError(
                    tr("query cost {cost} exceeds the limit of {limit}", cost=cost, limit=self.limit),
                    node,
                    extensions={"code": "QUERY_TOO_COSTLY"},
                )
            )
        if node.operation.value == "mutation":
            count = len(root_fields(node.selection_set, self.fragments))
            if count > MAX_MUTATIONS:
                self.report_error(
                    GraphQLError(
                        tr("at most {limit} mutations per request", limit=MAX_MUTATIONS),
                        node,
                        extensions={"code": "TOO_MANY_MUTATIONS"},
                    )
                )


def root_fields(
    selection_set: SelectionSetNode, fragments: dict[str, FragmentDefinitionNode], seen: frozenset[str] = frozenset()
) -> list[FieldNode]:
    """Top-level fields, also those hidden in fragments: each is one mutation."""
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields += root_fields(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name in fragments and name not in seen:
                fields += root_fields(fragments[name].selection_set, fragments, seen | {name})
    return fields


def cost_rule(limit: int) -> type[CostRule]:
    return type("CostRule", (CostRule,), {"limit": limit})


def throttle_status(spent: Spend) -> dict[str, int]:
    return {
        "maximumAvailable": spent.maximum,
        "currentlyAvailable": spent.available,
        "restoreRate": spent.restore_rate,
    }


def throttled(spent: Spend) -> GraphQLError:
    """The top-level error of a partner request refused for fair use: when to retry, and the bucket now."""
    if spent.cost > spent.maximum:
        return GraphQLError(
            tr(
                "query cost {cost} exceeds the {maximum} points a partner key's bucket holds",
                cost=spent.cost,
                maximum=spent.maximum,
            ),
            extensions={"code": "MAX_COST_EXCEEDED", "cost": throttle_status(spent)},
        )
    return GraphQLError(
        tr(
            "throttled: this query costs {cost} points and {available} are available; retry in {wait} ms",
            cost=spent.cost,
            available=spent.available,
            wait=spent.retry_after_ms,
        ),
        extensions={"code": "THROTTLED", "retryAfterMs": spent.retry_after_ms, "cost": throttle_status(spent)},
    )
