"""Regenerate carc.csv and rarc.csv from the saved source listings.

    uv run python -m openrcm_shared.codesets.build_codesets [--sources DIR] [--out DIR]

Sources live in shared/codesets_sources/ (not shipped in the wheel); each file name carries the
date of the listing it holds (YYYY-MM-DD). Three kinds are read:

* ``x12_lists_<date>.json``: {"CARC": {code: [status, description]}, "RARC": {...}}, a listing
  without dates;
* ``wpc_dates_<date>.psv``: ``LIST|code|status|start|stop`` lines (MM/DD/YYYY), dates only;
* ``x12_carc_<date>.html`` / ``x12_rarc_<date>.html``: the code-list page as saved from x12.org,
  which carries descriptions, status and the Start / Last Modified / Stop dates together.

The newest listing decides which codes exist, their description and status; each date comes from
the newest source that states it. Nothing is invented: a date no source states stays empty.
"""

from __future__ import annotations

import argparse
import csv
import html
import json
import re
import sys
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from openrcm_shared.codesets.version import CARC_SOURCE, CODESETS_VERSION, RARC_SOURCE

LISTS = {"carc": CARC_SOURCE, "rarc": RARC_SOURCE}
COLUMNS = ["code", "description", "start_date", "stop_date", "last_modified", "status"]
_DATED_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")
# One table row of the X12 (or older WPC) code-list page; WPC wrote prod_set, X12 writes prod-set.
_ROW = re.compile(
    r'<tr class="prod[-_]set ([^"]*)">\s*<td class="code">([^<]+)</td>\s*'
    r'<td class="description">(.*?)</td>\s*</tr>',
    re.DOTALL,
)
_FIELD = {
    "start": re.compile(r"Start:\s*(\d{2}/\d{2}/\d{4})"),
    "stop": re.compile(r"Stop:\s*(\d{2}/\d{2}/\d{4})"),
    "modified": re.compile(r"Last Modified:\s*(\d{2}/\d{2}/\d{4})"),
}


@dataclass(frozen=True)
class Row:
    code: str
    description: str = ""
    status: str = ""
    start: date | None = None
    stop: date | None = None
    modified: date | None = None


def _us_date(text: str) -> date | None:
    return datetime.strptime(text, "%m/%d/%Y").date() if text else None


def _status(classes: str) -> str:
    for status in ("deactivated", "tobe", "current"):
        if status in classes.split():
            return status
    return "current"


def _listing_date(path: Path) -> date:
    match = _DATED_NAME.search(path.name)
    if match is None:
        raise SystemExit(f"{path.name}: source file names must carry the listing date YYYY-MM-DD")
    return date.fromisoformat(match.group(1))


def _plain_text(fragment: str) -> str:
    without_tags = re.sub(r"<[^>]+>", " ", fragment)
    return re.sub(r"\s+", " ", html.unescape(without_tags)).strip()


def _html_row(classes: str, code: str, cell: str) -> Row:
    text = _plain_text(cell)
    description, _, meta = text.partition(" Start: ")
    meta = "Start: " + meta if meta else ""
    found = {name: pattern.search(meta) for name, pattern in _FIELD.items()}
    dates = {name: _us_date(m.group(1)) if m else None for name, m in found.items()}
    return Row(code.strip().upper(), description.strip(), _status(classes), **dates)


def read_html(path: Path) -> dict[str, Row]:
    """Rows of an x12.org (or wpc-edi.com) code-list page; the first row for a code wins."""
    rows: dict[str, Row] = {}
    for classes, code, cell in _ROW.findall(path.read_text(encoding="utf-8")):
        row = _html_row(classes, code, cell)
        rows.setdefault(row.code, row)
    if not rows:
        raise SystemExit(f"{path.name}: no code rows found; the page layout changed")
    return rows


def read_json_listing(path: Path, list_name: str) -> dict[str, Row]:
    """Rows of a dateless listing: {"CARC": {code: [status, description]}, "RARC": {...}}."""
    listing = json.loads(path.read_text(encoding="utf-8"))[list_name.upper()]
    return {
        code: Row(code, description=text, status=status)
        for code, (status, text) in listing.items()
    }


def read_dates(path: Path, list_name: str) -> dict[str, Row]:
    """Rows of a dates-only extract: LIST|code|status|start|stop, dates as MM/DD/YYYY."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        which, code, status, start, stop = line.split("|")
        if which.lower() == list_name:
            rows[code] = Row(code, status=status, start=_us_date(start), stop=_us_date(stop))
    return rows


Source = tuple[date, str, str, dict[str, Row]]


def _read(path: Path, list_name: str) -> tuple[str, dict[str, Row]] | None:
    """(kind, rows) of one source file for one list, or None if the file is not such a source."""
    if path.suffix == ".json":
        return "listing", read_json_listing(path, list_name)
    if path.suffix == ".psv":
        return "dates", read_dates(path, list_name)
    if path.suffix == ".html" and f"_{list_name}_" in path.name:
        return "listing+dates", read_html(path)
    return None


def _sources(sources_dir: Path, list_name: str) -> list[Source]:
    """Every source for one list as (listing date, kind, file name, rows), oldest first."""
    found = []
    for path in sorted(sources_dir.iterdir()):
        read = _read(path, list_name)
        if read is not None:
            found.append((_listing_date(path), read[0], path.name, read[1]))
    return sorted(found, key=lambda source: source[0])


def _with_dates(row: Row, dated: list[dict[str, Row]]) -> Row:
    """Fill each date of a row from the newest dated source that states it."""
    for rows in reversed(dated):
        older = rows.get(row.code)
        if older is None:
            continue
        row = replace(
            row,
            start=row.start or older.start,
            stop=row.stop or older.stop,
            modified=row.modified or older.modified,
        )
    if row.status == "current" and row.stop is not None:
        # An older snapshot shows a stop the newest listing does not: the code was kept or reinstated
        # (RARC N411-N417 were retired in 2009 and are current again), so the stop must not apply.
        row = replace(row, stop=None)
    return row


def _code_order(code: str) -> tuple[str, int]:
    # Numeric CARCs first in numeric order, then prefixed codes (A1, B7, MA01, N130) by number.
    prefix = code.rstrip("0123456789")
    return (prefix, int(code[len(prefix):] or 0))


def merge(list_name: str, sources_dir: Path) -> tuple[list[Row], list[str]]:
    """The newest listing's codes, each dated from the newest source that states its dates."""
    sources = _sources(sources_dir, list_name)
    listings = [rows for _, kind, _, rows in sources if kind.startswith("listing")]
    if not listings:
        raise SystemExit(f"no listing for {list_name} in {sources_dir}")
    dated = [rows for _, kind, _, rows in sources if "dates" in kind]
    rows = [_with_dates(row, dated) for row in listings[-1].values()]
    provenance = [f"{when.isoformat()} {kind} from {name}" for when, kind, name, _ in sources]
    return sorted(rows, key=lambda row: _code_order(row.code)), provenance


def _header(list_name: str, provenance: list[str], count: int) -> list[str]:
    source = LISTS[list_name]
    lines = [
        f"{source['name']}",
        f"maintained by {source['maintainer']}; published at {source['publisher_url']}",
        f"openrcm codesets version {CODESETS_VERSION}; {count} codes",
        *(f"source: {line}" for line in provenance),
        "an empty start_date or stop_date means no source states it (see README.md)",
        "generated by openrcm_shared.codesets.build_codesets; do not edit by hand",
    ]
    return [f"# {line}\n" for line in lines]


def write_csv(list_name: str, rows: list[Row], provenance, out_dir: Path) -> Path:
    path = out_dir / f"{list_name}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(_header(list_name, provenance, len(rows)))
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        for row in rows:
            dates = (row.start, row.stop, row.modified)
            iso_dates = (day.isoformat() if day else "" for day in dates)
            writer.writerow([row.code, row.description, *iso_dates, row.status])
    return path


def main(argv: list[str] | None = None) -> int:
    package_dir = Path(__file__).resolve().parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, default=package_dir.parents[2] / "codesets_sources")
    parser.add_argument("--out", type=Path, default=package_dir)
    args = parser.parse_args(argv)
    for list_name in LISTS:
        rows, provenance = merge(list_name, args.sources)
        path = write_csv(list_name, rows, provenance, args.out)
        undated = sum(1 for row in rows if row.start is None)
        print(f"{path.name}: {len(rows)} codes, {undated} without a start date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
