"""The simulated day of `make demo`: the only code that drives the simulator, reading results through the public API."""
