"""Phone-like digits are masked in every error text that is stored or logged.

Validation errors quote what the sender wrote, and a sender writes buyers' phone numbers; the
database and the logs must never hold one in plaintext. Anything that looks like a phone number
(7 or more digits, with an optional +86 / 0086 prefix and single spaces or hyphens between
groups) keeps at most its first 3 and last 4 digits: `+86 138 1234 5678` becomes `+86 138****5678`.
Order numbers and transaction ids of 7+ digits are masked too: a reader can still tell them apart
by their ends, and a false positive costs less than a leaked number.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from typing import Any

_PHONE_LIKE = re.compile(r"(?<![\d*])((?:\+|00)\s?86[\s\-]?|\(\+?86\)\s?)?(\d(?:[ \-]?\d){6,})(?![\d*])")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SEPARATORS = re.compile(r"[ \-]")
HIDDEN = "*"


def _mask_digits(digits: str) -> str:
    """At least 4 digits hidden, so that a 7-digit number is not shown whole."""
    hidden = max(4, len(digits) - 7)
    trail = min(4, len(digits) - hidden)
    lead = len(digits) - hidden - trail
    return digits[:lead] + HIDDEN * hidden + digits[len(digits) - trail :]


def _replace(match: re.Match[str]) -> str:
    prefix, run = match.group(1) or "", match.group(2)
    if not prefix and _DATE.fullmatch(run):
        return match.group(0)
    return prefix + _mask_digits(_SEPARATORS.sub("", run))


def mask_phones(text: str) -> str:
    return _PHONE_LIKE.sub(_replace, text)


def _masking_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        MaskPhones().filter(record)
        return record

    factory.masks_phones = True  # type: ignore[attr-defined]
    return factory


class MaskPhones(logging.Filter):
    """Rewrites a record's message and its traceback text with phone-like digits masked.

    A record whose message needs no mask is left as it is. Otherwise its text arguments are masked in
    place when that is enough, so formatters that read `args` (uvicorn's access log) keep working;
    failing that, the message is replaced by its masked text.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed format string is logging's own problem to report
            return True
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = _masked_in_place(record, masked)
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_phones(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = mask_phones(record.stack_info)
        return True


def _masked_in_place(record: logging.LogRecord, masked: str) -> tuple[Any, Any]:
    def text(value: Any) -> Any:
        return mask_phones(value) if isinstance(value, str) else value

    msg, args = text(record.msg), record.args
    if isinstance(args, tuple):
        args = tuple(text(a) for a in args)
    elif isinstance(args, Mapping):
        args = {k: text(v) for k, v in args.items()}
    try:
        if (msg % args if args else str(msg)) == masked:
            return msg, args
    except (TypeError, ValueError):
        pass
    return masked, None


def install_log_masking() -> None:
    """Masks every log record where it is made, whichever logger or handler it goes through.

    A filter on the root logger alone would not see records of child loggers (logger filters do
    not apply to propagated records), and a filter on its handlers would miss handlers added later
    (uvicorn's, pytest's): the record factory is the one place every record passes. Idempotent.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "masks_phones", False):
        logging.setLogRecordFactory(_masking_factory(current))
    root = logging.getLogger()
    if not any(isinstance(f, MaskPhones) for f in root.filters):
        root.addFilter(MaskPhones())
