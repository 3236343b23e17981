"""Offline push for customer apps over GraphQL (domain/push)."""
