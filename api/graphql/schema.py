"""The orderhub GraphQL schema: queries, mutations, and the limits every request passes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import FragmentDefinitionNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info

from api.auth.cost_bucket import CostBucket, Spend
from api.auth.principal import Partner, Staff
from api.graphql.clock import ClockQueries
from api.graphql.context import Context
from api.graphql.cost import cost_rule, selection_cost, throttle_status, throttled
from api.graphql.fulfilment import FulfilmentMutations, FulfilmentQueries
from api.graphql.fulfilment.exceptions import ExceptionMutations, ExceptionQueries, load_exceptions
from api.graphql.fulfilment.warehouses import WarehouseQueries
from api.graphql.health.mutations import HealthMutations
from api.graphql.health.queries import HealthQueries, SelfCheckQueries
from api.graphql.health.robots import RobotMutations, RobotQueries
from api.graphql.identity.mutations import IdentityMutations
from api.graphql.identity.queries import IdentityQueries, load_suggestion
from api.graphql.ids import decode_gid
from api.graphql.intake import (
    IntakeMutations,
    IntakeQueries,
    ReplayMutations,
    load_drift_alert,
    load_inbound_message,
)
from api.graphql.intake.rule_check import RuleCheckMutations
from api.graphql.money.mutations import MoneyMutations
from api.graphql.money.queries import MONEY_NODES, MoneyQueries
from api.graphql.node import Node, NodeLoader
from api.graphql.orders.mutations import OrderMutations
from api.graphql.orders.queries import OrderQueries
from api.graphql.orders.types import Order, load_event, load_order
from api.graphql.permissions import READ_ORDERS, allow
from api.graphql.push.mutations import PushMutations
from api.graphql.scalars import DECIMAL_SCALAR, Decimal
from api.graphql.shops.mutations import ShopMutations
from api.graphql.shops.queries import ShopQueries, load_shop
from api.graphql.signin.mutations import SignInMutations
from api.graphql.staff.mutations import AccessMutations, StaffMutations
from api.graphql.staff.queries import AccessQueries, load_admin_log_entry, load_partner_key, load_staff_account
from api.graphql.subscriptions import Subscription
from api.graphql.webhooks.mutations import WebhookMutations
from api.graphql.webhooks.queries import WebhookQueries
from api.graphql.webhooks.types import load_delivery, load_endpoint
from api.observe import ObserveOperation, count_errors
from domain.settings import Settings

log = logging.getLogger(__name__)

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


async def _exception(info: Info[Context, None], key: int) -> Node | None:
    found = await load_exceptions(info, [key]) if isinstance(info.context.principal, Staff) else []
    return found[0] if found else None


NODES: dict[str, NodeLoader] = {
    "Order": load_order,
    "OrderEvent": load_event,
    "OrderException": _exception,
    "DriftAlert": load_drift_alert,
    "InboundMessage": load_inbound_message,
    "MatchSuggestion": load_suggestion,
    "PartnerKey": load_partner_key,
    "StaffAccount": load_staff_account,
    "AdminLogEntry": load_admin_log_entry,
    "WebhookEndpoint": load_endpoint,
    "WebhookDelivery": load_delivery,
    "Shop": load_shop,
    **MONEY_NODES,
}
"""Every Node type by its global id's type name: node(id:) answers each, or null."""


@strawberry.type
class Query(
    OrderQueries,
    FulfilmentQueries,
    ExceptionQueries,
    WarehouseQueries,
    IntakeQueries,
    MoneyQueries,
    IdentityQueries,
    SelfCheckQueries,
    HealthQueries,
    RobotQueries,
    AccessQueries,
    WebhookQueries,
    ShopQueries,
    ClockQueries,
):
    @strawberry.field(
        description="Any object by its global id, or null unless the caller may see it where it is listed.",
        extensions=allow(**READ_ORDERS),
    )
    async def node(self, info: Info[Context, None], id: strawberry.ID) -> Node | None:
        type_name, key = decode_gid(id)
        load = NODES.get(type_name)
        return None if load is None else await load(info, key)


@strawberry.type
class Mutation(
    OrderMutations,
    StaffMutations,
    FulfilmentMutations,
    ExceptionMutations,
    IntakeMutations,
    ReplayMutations,
    RuleCheckMutations,
    MoneyMutations,
    IdentityMutations,
    HealthMutations,
    RobotMutations,
    SignInMutations,
    AccessMutations,
    PushMutations,
    WebhookMutations,
    ShopMutations,
):
    pass


class SpeakTheCallersLanguage(SchemaExtension):
    """Human text rendered while the operation runs (userErrors, labels, summaries) is in the language the
    context chose for the caller."""

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context.context
        if not isinstance(context, Context):
            yield
            return
        with context.speaking():
            yield


class ReportCost(SchemaExtension):
    """Prices the operation before it runs; a partner key pays the price from its cost-point bucket (fair use)
    and is refused with THROTTLED while the points are not there. The price, and for partners the bucket, are
    returned in `extensions.cost`, shaped as Shopify's (requestedQueryCost, actualQueryCost, throttleStatus)."""

    def __init__(self, *, execution_context: ExecutionContext | None = None) -> None:
        super().__init__(execution_context=execution_context)
        self.price: int | None = None
        self.spent: Spend | None = None

    def _price(self) -> int | None:
        document = self.execution_context.graphql_document
        if document is None:
            return None
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        name = self.execution_context.operation_name
        chosen = [op for op in operations if name is None or (op.name and op.name.value == name)]
        return sum(selection_cost(op.selection_set, fragments) for op in chosen[:1])

    async def on_execute(self) -> AsyncIterator[None]:
        self.price = self._price()
        context = self.execution_context.context
        principal = getattr(context, "principal", None)
        request = getattr(context, "request", None)
        state = getattr(getattr(request, "app", None), "state", None)
        bucket: CostBucket | None = getattr(state, "cost_bucket", None)
        if isinstance(principal, Partner) and bucket is not None and bucket.enabled and self.price is not None:
            self.spent = await bucket.spend(principal.key_id, self.price)
            if not self.spent.allowed:
                self.execution_context.result = GraphQLExecutionResult(data=None, errors=[throttled(self.spent)])
        yield

    def get_results(self) -> dict[str, Any]:
        self.price = self._price() if self.price is None else self.price  # refused before execution: priced too
        if self.price is None:
            return {}
        cost: dict[str, Any] = {"requestedQueryCost": self.price, "actualQueryCost": self.price}
        if self.spent is not None:
            cost["actualQueryCost"] = self.price if self.spent.allowed else None
            cost["throttleStatus"] = throttle_status(self.spent)
        return {"cost": cost}


def _should_mask(error: GraphQLError) -> bool:
    """Unexpected failures inside resolvers are masked; errors about the request itself (syntax,
    validation, variable coercion) and those we raise on purpose stay readable."""
    original = error.original_error
    return error.path is not None and original is not None and not isinstance(original, GraphQLError)


def _note_failure(execution_context: ExecutionContext | None, errors: list[GraphQLError]) -> None:
    """The recorded message is closed FAILED with what failed, not with the masked text the caller sees."""
    request = getattr(execution_context.context if execution_context else None, "request", None)
    if request is not None and hasattr(request, "state"):
        request.state.inbound_failure = "; ".join(
            f"{type(e.original_error).__name__}: {e.original_error}" for e in errors
        )


class OrderhubSchema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Refusals (auth, validation, bad ids) are the caller's business and are answered, not logged
        as failures; only unexpected errors are logged with their traceback."""
        unexpected = [e for e in errors if _should_mask(e)]
        count_errors(errors, unexpected)
        if unexpected:
            super().process_errors(unexpected, execution_context)
            _note_failure(execution_context, unexpected)
        for error in errors:
            if error not in unexpected:
                log.info("refused: %s", error.message)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    s = settings or Settings()
    # The validation cache keys on the rule classes: made once per schema, a repeated document is validated once.
    limits = [
        *QueryDepthLimiter(max_depth=s.graphql_max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=s.graphql_max_aliases).validation_rules,
        cost_rule(s.graphql_max_cost),
    ]
    # Introspection maps the whole API for whoever asks; it comes with GraphiQL (development, the demo).
    closed = [] if s.graphiql else [DisableIntrospection]
    return OrderhubSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[Order],
        config=StrawberryConfig(scalar_map={Decimal: DECIMAL_SCALAR}),
        extensions=[
            lambda: ParserCache(maxsize=256),
            lambda: ValidationCache(maxsize=256),
            lambda: MaxTokensLimiter(max_token_count=s.graphql_max_tokens),
            lambda: AddValidationRules(limits),
            SpeakTheCallersLanguage,
            ReportCost,
            ObserveOperation,
            lambda: MaskErrors(should_mask_error=_should_mask),
            *closed,
        ],
    )


def export_schema(path: Path = SCHEMA_FILE) -> None:
    path.write_text(build_schema().as_str() + "\n")


if __name__ == "__main__":
    export_schema()
    print(f"wrote {SCHEMA_FILE}")
