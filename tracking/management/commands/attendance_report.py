"""Attendance for a day or a month as CSV or XLSX (the honorarium summary)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tracking import attendance
from tracking.renderers import to_csv, to_xlsx


class Command(BaseCommand):
    help = "Compute attendance from the ping history and write it as CSV or XLSX."

    def add_arguments(self, parser):
        when = parser.add_mutually_exclusive_group(required=True)
        when.add_argument("--date", help="one WIB date, YYYY-MM-DD")
        when.add_argument("--month", help="YYYY-MM: per-supervisor summary for the honorarium")
        parser.add_argument("--opd", help="only this OPD (code, e.g. dishub)")
        parser.add_argument("--recompute", action="store_true", help="recompute days already computed")
        parser.add_argument("--output", "-o", help="file to write (.csv or .xlsx); default: CSV to stdout")

    def handle(self, *args, **opts):
        params = {k: v for k, v in {"date": opts["date"], "month": opts["month"], "opd": opts["opd"]}.items() if v}
        if opts["recompute"]:
            params["recompute"] = "1"
        try:
            query = attendance.ReportQuery.from_params(params)
            rows = attendance.report_rows(query)
        except attendance.AttendanceQueryError as exc:
            raise CommandError(exc.message) from exc
        out = opts["output"]
        if not out:
            self.stdout.write(to_csv(rows).decode())
            return
        path = Path(out)
        if path.suffix.lower() not in (".csv", ".xlsx"):
            raise CommandError("--output must end in .csv or .xlsx")
        path.write_bytes(to_xlsx(rows) if path.suffix.lower() == ".xlsx" else to_csv(rows))
        self.stderr.write(f"{len(rows)} rows -> {path}")
