"""A JSON column: JSONB on PostgreSQL, JSON text elsewhere."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlalchemy.dialects.postgresql import JSONB

JsonType = JSON().with_variant(JSONB(), "postgresql")


def json_column(*, nullable: bool = False) -> Any:
    return Column(JsonType, nullable=nullable)
