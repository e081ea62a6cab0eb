"""NCCI procedure-to-procedure edits and medically unlikely edits (CMS quarterly files, loaded by
the service; see codesets/ncci.py for the layouts and the CMS sources)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from openrcm_claims.domain.scrubber.codesets.ncci import INDICATOR_ALLOWED
from openrcm_claims.domain.scrubber.model import BLOCK
from openrcm_claims.domain.scrubber.registry import rule

NONE = ()


@rule("NCCI.PTP", BLOCK,
      "No NCCI PTP column 1/column 2 pair on one date of service unless a PTP-associated modifier allows it.")
def ncci_ptp(ctx):
    edits = ctx.code_sets.ptp.get(ctx.claim.claim_type)
    lines = ctx.claim.lines
    if not edits or len(lines) < 2:
        return NONE
    column1, column2 = edits.column1, edits.column2
    if not any(line.procedure_code in column2 for line in lines) or not any(
            line.procedure_code in column1 for line in lines):
        return NONE
    bypass = ctx.code_sets.ncci_modifiers
    found = []
    for second_index, second in enumerate(lines):
        if second.procedure_code not in column2:
            continue
        day = second.service_date
        ordinal = day.toordinal()
        for first_index, first in enumerate(lines):
            if first_index == second_index or first.service_date != day or first.procedure_code == second.procedure_code:
                continue
            hit = edits.find(first.procedure_code, second.procedure_code, ordinal)
            if hit is None:
                continue
            indicator, rationale = hit
            why = f" ({rationale})" if rationale else ""
            if indicator == INDICATOR_ALLOWED:
                if any(modifier in bypass for modifier in second.modifiers):
                    continue
                message = (f"NCCI PTP edit{why}: {second.procedure_code} (column 2) is not paid with "
                           f"{first.procedure_code} (column 1) on the same date of service unless an NCCI "
                           "PTP-associated modifier (e.g. 59, XE, XP, XS, XU) on the column 2 line shows a distinct service")
            else:
                message = (f"NCCI PTP edit{why}: {second.procedure_code} (column 2) is never paid with "
                           f"{first.procedure_code} (column 1) on the same date of service; no modifier bypasses "
                           "this edit (modifier indicator 0)")
            found.append((message, f"/lines/{second_index}/procedure_code"))
    return found


@rule("MUE.UNITS", BLOCK, "Units of a code stay within its MUE, per line (MAI 1) or per date of service (MAI 2 and 3).")
def mue_units(ctx):
    table = ctx.code_sets.mue.get(ctx.claim.claim_type)
    if not table:
        return NONE
    lines = ctx.claim.lines
    entries_by_code = table.entries
    if not any(line.procedure_code in entries_by_code for line in lines):
        return NONE
    found = []
    per_day: dict[tuple[str, object], list[int]] = defaultdict(list)
    entries = {}
    for index, line in enumerate(lines):
        entry = table.get(line.procedure_code)
        if entry is None:
            continue
        entries[line.procedure_code] = entry
        if entry.indicator == 1 or line.service_date_to not in (None, line.service_date):
            # a line edit, or a date-of-service edit on a line spanning several days: the MUE
            # applies per day of the span
            days = 1 if line.service_date_to is None else max(1, (line.service_date_to - line.service_date).days + 1)
            allowed = entry.max_units * (1 if entry.indicator == 1 else days)
            if line.units > allowed:
                found.append((f"{line.units} units of {line.procedure_code} exceed its medically unlikely edit of "
                              f"{allowed} (MUE adjudication indicator {entry.indicator})", f"/lines/{index}/units"))
        else:
            per_day[(line.procedure_code, line.service_date)].append(index)
    for (code, _), indexes in per_day.items():
        entry = entries[code]
        total = sum((ctx.claim.lines[i].units for i in indexes), Decimal(0))
        if total > entry.max_units:
            kind = "policy" if entry.indicator == 2 else "clinical"
            found.append((f"{total} units of {code} on one date of service exceed its medically unlikely edit of "
                          f"{entry.max_units} (MUE adjudication indicator {entry.indicator}, date of service edit: {kind})",
                          f"/lines/{indexes[-1]}/units"))
    return found
