"""Who may do what: the single table of scopes and roles every check reads."""

from __future__ import annotations

from enum import StrEnum


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


def parse_scopes(names: list[str]) -> list[Scope]:
    unknown = [n for n in names if n not in Scope._value2member_map_]
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(unknown)}; known: {', '.join(s.value for s in Scope)}")
    return [Scope(n) for n in names]


def parse_roles(names: list[str]) -> list[Role]:
    unknown = [n for n in names if n not in Role._value2member_map_]
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(unknown)}; known: {', '.join(r.value for r in Role)}")
    return [Role(n) for n in names]
