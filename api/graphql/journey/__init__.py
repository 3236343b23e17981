"""An order's journey over GraphQL (domain/fulfilment/journey): fields of `Order`, no queries of their own.

The names are re-exported because `Order` refers to them as `journey.<name>`."""

from api.graphql.journey.queries import (
    carrier_code,
    current_operator,
    last_stage_duration,
    order_backtrack,
    predicted_next_at,
    predicted_next_interval,
    predicted_next_stage,
    prediction_basis,
    prediction_model_version,
    timeline,
    tracking_number,
)
from api.graphql.journey.types import Duration, OrderBacktrack, OrderTimeline, PredictionInterval

__all__ = [
    "Duration",
    "OrderBacktrack",
    "OrderTimeline",
    "PredictionInterval",
    "carrier_code",
    "current_operator",
    "last_stage_duration",
    "order_backtrack",
    "predicted_next_at",
    "predicted_next_interval",
    "predicted_next_stage",
    "prediction_basis",
    "prediction_model_version",
    "timeline",
    "tracking_number",
]
