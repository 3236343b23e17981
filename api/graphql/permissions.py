"""Declared per field or mutation: which callers may use it. Every check lives here."""

from __future__ import annotations

from functools import reduce
from typing import Any

from graphql import GraphQLError
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from api.auth.principal import Anonymous, Customer, Partner, Principal, Staff
from domain.access.policy import Role, Scope
from domain.i18n import tr


class Allow(BasePermission):
    def __init__(
        self,
        *,
        scopes: frozenset[Scope] = frozenset(),
        roles: frozenset[Role] = frozenset(),
        any_staff: bool = False,
        customers: bool = False,
    ) -> None:
        self.scopes = scopes
        self.roles = roles
        self.any_staff = any_staff
        self.customers = customers

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if isinstance(principal, Anonymous):
            raise GraphQLError(
                tr("authentication required ({reason})", reason=principal.reason),
                extensions={"code": "UNAUTHENTICATED"},
            )
        if self.permits(principal):
            return True
        raise GraphQLError(self._denied(), extensions={"code": "FORBIDDEN"})

    def permits(self, principal: Principal) -> bool:
        match principal:
            case Partner(scopes=held) if self.scopes & held:
                return True
            case Staff(roles=held) if self.any_staff or self.roles & held:
                return True
            case Customer() if self.customers:
                return True
        return False

    def _denied(self) -> str:
        needs = [tr("scope {scope}", scope=s.value) for s in sorted(self.scopes)]
        needs += (
            [tr("any staff role")] if self.any_staff else [tr("role {role}", role=r.value) for r in sorted(self.roles)]
        )
        needs += [tr("a customer token")] if self.customers else []
        return tr("not allowed: needs {needs}", needs=reduce(_either, needs))


def may(info: Info, **kwargs: Any) -> bool:
    """The same rule as `allow`, asked quietly: for node(id:), which answers null rather than refusing."""
    return Allow(**kwargs).permits(info.context.principal)


def allow(**kwargs: Any) -> list[PermissionExtension]:
    return [PermissionExtension(permissions=[Allow(**kwargs)], fail_silently=False, use_directives=False)]


READ_ORDERS = dict(scopes=frozenset({Scope.ORDERS_READ, Scope.ORDERS_WRITE}), any_staff=True, customers=True)


def _either(left: str, right: str) -> str:
    return tr("{left} or {right}", left=left, right=right)
