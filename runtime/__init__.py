"""The composition root: settings in; engine, sessions, Redis, the outbox relay and the notifiers out.

The API and the workers both build their process from here, so neither needs the other.
"""

from runtime.core import Core, build_core
from runtime.process import Runtime, build_runtime

__all__ = ["Core", "Runtime", "build_core", "build_runtime"]
