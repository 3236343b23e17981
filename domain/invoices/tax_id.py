"""The unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, the last a check character.

A company's invoice needs it; a wrong one makes an invoice the tax bureau refuses, so it is checked when the
order arrives and a wrong one flags the request (the order itself is still accepted: the buyer paid).
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z: they read as digits
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


def check_character(first17: str) -> str:
    total = sum(CHARSET.index(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def normalize(raw: str) -> str:
    """Upper case without spaces or dashes: how buyers type it is not part of it."""
    return "".join(c for c in raw.upper() if c not in " -\u3000")


def problem(raw: str) -> str | None:
    """Why `raw` is not a valid code, or None when it is."""
    code = normalize(raw)
    if len(code) != LENGTH:
        return f"a unified social credit code has {LENGTH} characters, this one {len(code)}"
    wrong = sorted({c for c in code if c not in CHARSET})
    if wrong:
        return f"characters not used in a unified social credit code: {''.join(wrong)}"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]}, the first 17 characters give {expected}"
    return None
