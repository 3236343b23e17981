"""A statement file's layout: encoding, delimiter, header names, and each column's date or amount format.

The layout is what the drift watch compares per format: a bank that renames `memo` to `remark`, switches
to GBK or writes dates as `2026/12/07` would otherwise produce a statement that parses and reconciles
wrongly (no order reference, every line unmatched). The layout is kept as a small object of the shape
the drift watch already reads, so a renamed column is a lost field and a new one.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")
DELIMITERS = ",\t;|"
SAMPLE_ROWS = 20
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y年%m月%d日 %H:%M:%S", "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y",
)  # fmt: skip
AMOUNT_FORMATS = (
    ("decimal", re.compile(r"[-+]?(\d{1,3}(,\d{3})+|\d+)\.\d{1,2}|[-+]?\d{1,3}(,\d{3})+")),
    ("symbol", re.compile(r"[-+]?[¥￥$]\s?[\d,]+(\.\d{1,2})?")),
    ("parenthesised", re.compile(r"\([\d,]+(\.\d{1,2})?\)")),
)


class UnknownEncoding(ValueError):
    """Neither UTF-8 nor GB18030 (which covers GBK): the bytes cannot be read as any statement we know."""


@dataclass(frozen=True)
class Layout:
    encoding: str
    delimiter: str
    header_line: int
    columns: dict[str, str]  # header name -> "date:<format>", "amount:<style>" or "text"

    def renamed(self, renames: dict[str, str]) -> Layout:
        """The layout as the format's column rules make the parser read it."""
        columns = {renames.get(name, name): value for name, value in self.columns.items()}
        return Layout(self.encoding, self.delimiter, self.header_line, columns)

    def as_payload(self) -> dict[str, Any]:
        """What the drift watch learns and compares: the encoding and delimiter as values, each column a field."""
        return {"encoding": self.encoding, "delimiter": self.delimiter, "columns": dict(self.columns)}


def decode(data: bytes) -> tuple[str, str]:
    """The text and the encoding that read it; a BOM names UTF-8 before anything is guessed."""
    for encoding in ENCODINGS:
        if encoding == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
            continue
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise UnknownEncoding("the file is neither UTF-8 nor GBK/GB18030 text")


def _delimiter(lines: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("\n".join(lines[:5]), delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","


def _cell(value: str) -> str:
    return value.strip().lstrip("`").strip()


def _format(values: list[str]) -> str:
    """The one date or amount format every sampled value of a column has; text otherwise."""
    present = [v for v in values if v]
    if not present:
        return "text"
    for fmt in DATE_FORMATS:
        if all(_is_time(v, fmt) for v in present):
            return f"date:{fmt}"
    for name, pattern in AMOUNT_FORMATS:
        if all(pattern.fullmatch(v) for v in present):
            return f"amount:{name}"
    return "text"


def _is_time(value: str, fmt: str) -> bool:
    try:
        datetime.strptime(value, fmt)
    except ValueError:
        return False
    return True


def content_lines(text: str) -> list[tuple[int, str]]:
    """Numbered lines without preamble or footer comments (Alipay's `#` lines) and blank lines."""
    return [(n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.startswith("#")]


def read_layout(data: bytes) -> Layout:
    """Raises UnknownEncoding; an empty file has an empty layout (the parser names what is wrong with it)."""
    text, encoding = decode(data)
    lines = content_lines(text)
    if not lines:
        return Layout(encoding, ",", 0, {})
    delimiter = _delimiter([line for _, line in lines])
    rows = list(csv.reader(io.StringIO("\n".join(line for _, line in lines[: SAMPLE_ROWS + 1])), delimiter=delimiter))
    header = [_cell(c) for c in rows[0]]
    sample = [r for r in rows[1:] if len(r) == len(header)]  # a summary block has a header of its own
    columns = {name: _format([_cell(r[i]) for r in sample]) for i, name in enumerate(header) if name}
    return Layout(encoding, delimiter, lines[0][0], columns)


def rename_columns(data: bytes, renames: dict[str, str]) -> bytes:
    """The file with its header cells renamed (old -> new) and everything else byte for byte: what staff's
    column rules make of a bank's new names before the parser reads them."""
    if not renames:
        return data
    layout = read_layout(data)
    text, encoding = decode(data)
    lines = text.splitlines(keepends=True)
    index = layout.header_line - 1
    raw = lines[index]
    ending = raw[len(raw.rstrip("\r\n")) :]
    cells = next(csv.reader([raw.rstrip("\r\n")], delimiter=layout.delimiter))
    renamed = [cell.replace(_cell(cell), renames[_cell(cell)]) if _cell(cell) in renames else cell for cell in cells]
    out = io.StringIO()
    csv.writer(out, delimiter=layout.delimiter, lineterminator="").writerow(renamed)
    lines[index] = out.getvalue() + ending
    return "".join(lines).encode(encoding)
