"""Who may do what: the single table of scopes and roles every check reads."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum

from domain.i18n import Message, msg
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


class PolicyError(ValueError):
    """A name the policy does not know; `message` is what the administrator reads, in their language."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


def parse_scopes(names: Sequence[str]) -> list[Scope]:
    unknown = [n for n in names if n not in Scope._value2member_map_]
    if unknown:
        raise PolicyError(
            msg("unknown scopes: {unknown}; known: {known}", unknown=", ".join(unknown), known=", ".join(Scope))
        )
    return [Scope(n) for n in names]


def parse_roles(names: Sequence[str]) -> list[Role]:
    unknown = [n for n in names if n not in Role._value2member_map_]
    if unknown:
        raise PolicyError(
            msg("unknown roles: {unknown}; known: {known}", unknown=", ".join(unknown), known=", ".join(Role))
        )
    return [Role(n) for n in names]


def parse_channels(names: Sequence[str]) -> list[str]:
    """The sales channels a partner key is bound to; at least one, each a known channel."""
    parsed = [parse_channel(n) for n in names]
    unknown = [n for n, c in zip(names, parsed, strict=True) if c is None]
    if unknown:
        raise PolicyError(
            msg("unknown channels: {unknown}; known: {known}", unknown=", ".join(unknown), known=", ".join(Channel))
        )
    if not names:
        raise PolicyError(msg("a partner key bound to channels needs at least one channel"))
    return sorted({c.value for c in parsed if c is not None})
