"""Fulfilment over GraphQL: types, queries, mutations. The order's timelines and backtrack live in
`api/graphql/journey/`."""

from api.graphql.fulfilment.mutations import FulfilmentMutations
from api.graphql.fulfilment.queries import FulfilmentQueries
from api.graphql.fulfilment.types import OPS, FulfilmentUserError, load_any_order, user_errors

__all__ = ["OPS", "FulfilmentMutations", "FulfilmentQueries", "FulfilmentUserError", "load_any_order", "user_errors"]
