"""Shops and their credentials (admin)."""
