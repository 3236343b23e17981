"""Recorded partner requests read back into warehouse and carrier evidence, for replay.

The body is read the way the schema read it when it arrived: the document parsed, its variables coerced,
the `input` of each `recordWarehouseEvent` / `recordCarrierEvent` field converted to the same input types and
validated by the same domain functions. Other fields of the request are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.types.arguments import convert_argument

from api.graphql.fulfilment.types import (
    CarrierEventInput,
    WarehouseEventInput,
    carrier_of,
    confirmation_of,
    scan_of,
)
from domain.errors import Problems
from domain.fulfilment import evidence as ev
from domain.pipeline.evidence_replay import EvidenceReader

FIELDS: dict[str, type] = {"recordWarehouseEvent": WarehouseEventInput, "recordCarrierEvent": CarrierEventInput}


def evidence_reader(schema: strawberry.Schema) -> EvidenceReader:
    def read(body: bytes) -> Sequence[tuple[ev.Evidence | None, Problems]]:
        return read_evidence(schema, body)

    return read


def read_evidence(schema: strawberry.Schema, body: bytes) -> list[tuple[ev.Evidence | None, Problems]]:
    """Raises ValueError for a body that is not a readable GraphQL request."""
    try:
        request = json.loads(body)
        document = parse(request["query"])
    except (ValueError, KeyError, TypeError, GraphQLError) as exc:
        raise ValueError(f"not a GraphQL request: {exc}") from exc
    mutation = schema._schema.mutation_type
    if mutation is None:
        return []
    events: list[tuple[ev.Evidence | None, Problems]] = []
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode) or operation.operation is not OperationType.MUTATION:
            continue
        name = request.get("operationName")
        if name and (operation.name is None or operation.name.value != name):
            continue
        definitions = operation.variable_definitions or ()
        variables = get_variable_values(schema._schema, definitions, request.get("variables") or {})
        if not isinstance(variables, VariableValues):
            continue  # refused by GraphQL when it arrived: it carried no evidence then either
        for node in operation.selection_set.selections:
            if not isinstance(node, FieldNode) or node.name.value not in FIELDS:
                continue
            try:
                raw = get_argument_values(mutation.fields[node.name.value], node, variables)
            except GraphQLError:
                continue
            events.append(_validated(schema, node.name.value, raw["input"]))
    return events


def _validated(schema: strawberry.Schema, field: str, raw: Any) -> tuple[ev.Evidence | None, Problems]:
    value = convert_argument(raw, FIELDS[field], schema.schema_converter.scalar_registry, schema.config)
    problems = Problems()
    if isinstance(value, CarrierEventInput):
        return ev.validate_carrier(carrier_of(value), (), problems), problems
    assert isinstance(value, WarehouseEventInput)
    confirmation = None if value.confirmation is None else confirmation_of(value.confirmation)
    scan = None if value.scan is None else scan_of(value.scan)
    return ev.validate_warehouse(confirmation, scan, problems), problems
