"""The Node interface every object with a global id implements."""

from __future__ import annotations

import strawberry


@strawberry.interface(description="An object with a global id (gid://orderhub/Type/key).")
class Node:
    id: strawberry.ID
