"""CSV and XLSX renderers for attendance rows (a list of flat dicts, same columns in each)."""

import csv
import io

from openpyxl import Workbook
from rest_framework.renderers import BaseRenderer


def _table(data) -> tuple[list[str], list[list]]:
    rows = data if isinstance(data, list) else [data]
    columns = list(rows[0].keys()) if rows else []
    return columns, [[r.get(c) for c in columns] for r in rows]


def to_csv(data) -> bytes:
    columns, rows = _table(data)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def to_xlsx(data, title: str = "attendance") -> bytes:
    columns, rows = _table(data)
    wb = Workbook()
    ws = wb.active
    ws.title = title[:31]
    ws.append(columns)
    for r in rows:
        ws.append([v if isinstance(v, int | float | str) or v is None else str(v) for v in r])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return to_csv(data)


class XLSXRenderer(BaseRenderer):
    media_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return to_xlsx(data)
