"""Staff sign-in over GraphQL (domain/access)."""
