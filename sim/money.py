"""Money in the simulator is integer minor units; this is where it becomes the text and currency a channel sends.

Floats never appear: a bridge that rounds 0.1 + 0.2 differently from the backend is exactly the bug the
simulator must not introduce on its own.
"""

from __future__ import annotations

# A fixed rate keeps a seed's output identical forever; a live rate would make yesterday's fixtures drift.
FEN_PER_USD = 720


def fen_to_cents(fen: int) -> int:
    """Round half up in integers, so the same CNY price always lands on the same USD cent."""
    return (fen * 100 + FEN_PER_USD // 2) // FEN_PER_USD


def in_currency(fen: int, currency: str) -> int:
    """Catalog prices are fen; only Amazon sells in another currency."""
    if currency == "CNY":
        return fen
    if currency == "USD":
        return fen_to_cents(fen)
    raise ValueError(f"the simulator has no rate for {currency}")


def decimal_text(minor: int) -> str:
    """Two-decimal text for CNY and USD alike, built from divmod so it is exact for any size."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d}"
