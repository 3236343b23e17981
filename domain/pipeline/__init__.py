"""The message pipeline.

Every message is recorded first, alone, then handled in one unit of work that writes its outcome.
"""
