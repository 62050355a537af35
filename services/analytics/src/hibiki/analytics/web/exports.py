"""CSV and Excel (xlsx, openpyxl) downloads of a table of rows.

CSV is UTF-8 with a BOM (Excel opens it in Japanese), or Shift_JIS with ``encoding=shift_jis``
(characters Shift_JIS lacks become ``?``), like the directory's exports. A cell that starts
with ``=``, ``+``, ``-``, ``@``, tab or CR is prefixed with ``'`` in both formats, so a caller
name cannot become a spreadsheet formula (CSV injection); numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook

from hibiki.analytics.reports.query import TOKYO, InvalidParameter

ENCODINGS = ("utf-8", "shift_jis")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(TOKYO).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        value = " ".join(str(v) for v in value)
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def encoding_of(value: str | None) -> str:
    if value in (None, "", "utf-8"):
        return "utf-8"
    if value == "shift_jis":
        return "shift_jis"
    raise InvalidParameter("encoding", "encoding must be utf-8 or shift_jis")


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow([_cell(v) for v in r])
    text = out.getvalue()
    if encoding == "shift_jis":
        return text.encode("cp932", errors="replace")
    return "\ufeff".encode() + text.encode("utf-8")


def to_xlsx(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]],
            percent_columns: Sequence[int] = ()) -> bytes:
    """One sheet; ``percent_columns`` (0-based) hold shares shown as percentages (the value stays
    the share: 0.4 shows 40.0%)."""
    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(list(header))
    for r in rows:
        sheet.append([_cell(v) for v in r])
    for column in percent_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.number_format = "0.0%"
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
