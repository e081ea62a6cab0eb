"""Tables as people export them: CSV and XLSX bytes, and the HTTP response for a `format` query parameter.

Worklists and reports answer JSON by default; `?format=csv` or `?format=xlsx` gives the same rows for a spreadsheet.
Amounts stay numbers in XLSX (Decimal written as a number with a currency format) so a manager can sum a column.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Iterable, Sequence

from fastapi import Response
from openpyxl import Workbook
from openpyxl.utils import get_column_letter

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(_cell_text(item) for item in value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def rows_to_csv(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """RFC 4180 CSV with a header row; lists become `a;b`, dates ISO 8601, amounts as written (no float rounding)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell_text(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _cell_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value  # openpyxl writes Decimal as a number
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, (date, int, float)) or value is None:
        return value
    return _cell_text(value)


def rows_to_xlsx(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    """An XLSX workbook, one sheet per (title, columns, rows); header bold and frozen, amounts as numbers."""
    workbook = Workbook(write_only=True)
    for title, columns, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        for index, column in enumerate(columns, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(12, len(column) + 2)
        sheet.append(list(columns))
        for row in rows:
            sheet.append([_cell_value(value) for value in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def export_response(export_format: ExportFormat, filename: str, columns: Sequence[str],
                    rows: Sequence[Sequence[Any]]) -> Response:
    """A CSV or XLSX download of `rows` (`export_format` json is the caller's own JSON answer, not handled here)."""
    if export_format is ExportFormat.CSV:
        body, media_type, suffix = rows_to_csv(columns, rows), CSV_MEDIA_TYPE, "csv"
    elif export_format is ExportFormat.XLSX:
        body, media_type, suffix = rows_to_xlsx([(filename, columns, rows)]), XLSX_MEDIA_TYPE, "xlsx"
    else:
        raise ValueError("export_response writes csv or xlsx; answer json with the route's own model")
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}.{suffix}"'})


def export_responses_doc(description: str = "The same rows as CSV or XLSX when `format` asks for them") -> dict:
    """OpenAPI `responses` entry documenting the CSV and XLSX forms of a 200 answer."""
    return {200: {"description": description,
                  "content": {"text/csv": {"schema": {"type": "string"}},
                              XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}}
