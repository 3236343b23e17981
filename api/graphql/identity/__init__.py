"""Buyer identity over GraphQL (domain/identity), for staff."""
