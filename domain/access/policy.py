"""Who may do what: the single table of scopes and roles every check reads."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from domain.orders.channels import Channel, parse_channel


class Scope(StrEnum):
    ORDERS_WRITE = "orders:write"
    ORDERS_READ = "orders:read"
    WMS_WRITE = "wms:write"
    CARRIER_WRITE = "carrier:write"
    PAYMENTS_WRITE = "payments:write"
    CUSTOMERS_WRITE = "customers:write"
    ERP_WRITE = "erp:write"
    CRM_WRITE = "crm:write"


class Role(StrEnum):
    ADMIN = "admin"
    OPS = "ops"
    CS = "cs"
    FINANCE = "finance"


def parse_scopes(names: Sequence[str]) -> list[Scope]:
    unknown = [n for n in names if n not in Scope._value2member_map_]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(s.value for s in Scope)}")
    return [Scope(n) for n in names]


def parse_roles(names: Sequence[str]) -> list[Role]:
    unknown = [n for n in names if n not in Role._value2member_map_]
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}; known: {', '.join(r.value for r in Role)}")
    return [Role(n) for n in names]


def parse_channels(names: Sequence[str]) -> list[str]:
    """The sales channels a partner key is bound to; at least one, each a known channel."""
    parsed = [parse_channel(n) for n in names]
    unknown = [n for n, c in zip(names, parsed, strict=True) if c is None]
    if unknown:
        raise ValueError(f"unknown channels: {', '.join(unknown)}; known: {', '.join(c.value for c in Channel)}")
    if not names:
        raise ValueError("a partner key bound to channels needs at least one channel")
    return sorted({c.value for c in parsed if c is not None})
