"""Channel intake over GraphQL: types, queries, mutations."""

from api.graphql.intake.mutations import IntakeMutations, ReplayMutations
from api.graphql.intake.queries import IntakeQueries, load_drift_alert, load_inbound_message

__all__ = ["IntakeMutations", "IntakeQueries", "ReplayMutations", "load_drift_alert", "load_inbound_message"]
