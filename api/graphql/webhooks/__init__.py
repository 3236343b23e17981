"""Partner webhook endpoints over GraphQL (domain/webhooks)."""
