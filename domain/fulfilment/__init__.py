"""Fulfilment truth: ship requests, warehouse and carrier evidence, the shipped rule, exceptions, timelines."""
