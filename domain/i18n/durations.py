"""How long something took, as a person reads it: the one duration formatter, in the catalogs' terms, so a
backtrack, a digest and a report say "1 d 12 h" (en) or "1天12小时" (zh-CN) alike."""

from __future__ import annotations

from domain.i18n.catalogs import render
from domain.i18n.messages import Message, msg


def duration(seconds: int) -> Message:
    """Days and hours past a day, hours and minutes past an hour, else minutes; unrendered, for later readers."""
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return msg("{days} d {hours} h", days=days, hours=hours)
    if hours:
        return msg("{hours} h {minutes} min", hours=hours, minutes=minutes)
    return msg("{minutes} min", minutes=minutes)


def format_duration(seconds: int) -> str:
    """The duration in the language of the work at hand."""
    return render(duration(seconds))
