"""A streaming XLSX writer: a workbook is a zip of XML parts, so rows are turned into XML and compressed as
they arrive and the bytes leave at once; nothing grows with the number of rows.

Why not a library: XlsxWriter's constant_memory mode and openpyxl's write_only mode both write a temporary
file and zip it when the workbook closes, so the first byte reaches a download only after the last row was
read, and the disk holds the whole sheet meanwhile. `zipfile` writes to a non-seekable stream (sizes go in
data descriptors), which is all a streamed workbook needs.

Strings are inline (`t="inlineStr"`), never a shared-strings table: that table must be written whole and
would grow with the distinct values of every row.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from xml.sax.saxutils import escape

Cell = str | int | None

EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CHARS = 32_767
# A part past 2 GiB needs ZIP64, which some spreadsheet programs warn about; a new sheet starts well before.
MAX_SHEET_BYTES = 1_500_000_000
COMPRESS_LEVEL = 1  # the export is CPU-bound; level 1 costs a third of the default and the XML still shrinks ~8x

_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DECL = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

_SHEET_HEAD = (
    f'{_DECL}<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}"><sheetViews><sheetView workbookViewId="0">'
    '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>'
    "<sheetData>"
)
_SHEET_TAIL = "</sheetData></worksheet>"
_STYLES = (
    f'{_DECL}<styleSheet xmlns="{_MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>'
)
_ROOT_RELS = (
    f'{_DECL}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" Type="{_REL}/officeDocument" '
    'Target="xl/workbook.xml"/></Relationships>'
)


def column_letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _text(value: str) -> str:
    value = _ILLEGAL_XML.sub("", value)[:EXCEL_MAX_CHARS]
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f"<t{space}>{escape(value)}</t>"


class _Sink(io.RawIOBase):
    """Collects what the zip writer emits until the caller takes it; not seekable, so zipfile streams."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class XlsxStream:
    """`header()`, then `rows(...)` as often as rows come, then `close()`; each returns the bytes to send next.

    Integers become number cells; strings inline text cells (exact, never reinterpreted as numbers or dates);
    None an empty cell. A sheet that reaches Excel's row limit continues on the next sheet, header repeated.
    """

    def __init__(self, headers: Sequence[str], sheet_name: str = "orders") -> None:
        self._headers = list(headers)
        self._letters = [column_letters(i) for i in range(len(headers))]
        self._sheet_name = sheet_name
        self._sink = _Sink()
        self._zip = zipfile.ZipFile(self._sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        self._sheets = 0
        self._part: io.BufferedIOBase | None = None
        self._row = 0
        self._part_bytes = 0

    def header(self) -> bytes:
        self._new_sheet()
        return self._sink.take()

    def rows(self, rows: Iterable[Sequence[Cell]]) -> bytes:
        lines: list[str] = []
        for row in rows:
            if self._row >= EXCEL_MAX_ROWS or self._part_bytes >= MAX_SHEET_BYTES:
                self._write("".join(lines))
                lines = []
                self._new_sheet()
            self._row += 1
            lines.append(self._row_xml(self._row, row))
        self._write("".join(lines))
        return self._sink.take()

    def close(self) -> bytes:
        self._end_sheet()
        sheets = range(1, self._sheets + 1)
        names = {n: self._sheet_name if n == 1 else f"{self._sheet_name} ({n})" for n in sheets}
        self._zip.writestr("xl/styles.xml", _STYLES)
        self._zip.writestr(
            "xl/workbook.xml",
            f'{_DECL}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}"><sheets>'
            + "".join(f'<sheet name="{escape(name)}" sheetId="{n}" r:id="rId{n}"/>' for n, name in names.items())
            + "</sheets></workbook>",
        )
        self._zip.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{_DECL}<Relationships xmlns="{_PKG_REL}">'
            + "".join(
                f'<Relationship Id="rId{n}" Type="{_REL}/worksheet" Target="worksheets/sheet{n}.xml"/>' for n in sheets
            )
            + f'<Relationship Id="rId{self._sheets + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>',
        )
        self._zip.writestr("_rels/.rels", _ROOT_RELS)
        self._zip.writestr("[Content_Types].xml", self._content_types(sheets))
        self._zip.close()
        return self._sink.take()

    def _content_types(self, sheets: range) -> str:
        kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
        return (
            f'{_DECL}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{kind}.styles+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{n}.xml" ContentType="{kind}.worksheet+xml"/>' for n in sheets
            )
            + "</Types>"
        )

    def _new_sheet(self) -> None:
        self._end_sheet()
        self._sheets += 1
        self._part = self._zip.open(f"xl/worksheets/sheet{self._sheets}.xml", "w")  # type: ignore[assignment]
        self._part_bytes = 0
        self._row = 1
        cells = "".join(
            f'<c r="{letter}1" t="inlineStr" s="1"><is>{_text(name)}</is></c>'
            for letter, name in zip(self._letters, self._headers, strict=True)
        )
        self._write(f'{_SHEET_HEAD}<row r="1">{cells}</row>')

    def _end_sheet(self) -> None:
        if self._part is not None:
            self._write(_SHEET_TAIL)
            self._part.close()
            self._part = None

    def _write(self, xml: str) -> None:
        if xml:
            assert self._part is not None
            data = xml.encode()
            self._part_bytes += len(data)
            self._part.write(data)

    def _row_xml(self, number: int, row: Sequence[Cell]) -> str:
        cells = []
        for letter, value in zip(self._letters, row, strict=False):
            if value is None:
                continue
            if isinstance(value, int):
                cells.append(f'<c r="{letter}{number}"><v>{value}</v></c>')
            else:
                cells.append(f'<c r="{letter}{number}" t="inlineStr"><is>{_text(value)}</is></c>')
        return f'<row r="{number}">{"".join(cells)}</row>'
