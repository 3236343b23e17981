"""A seeded simulated trading day of multi-channel orders, so demos, tests and benchmarks share one ground truth."""
