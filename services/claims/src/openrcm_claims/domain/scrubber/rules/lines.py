"""Service lines: procedure codes, modifiers, place of service, units, charges, dates and
diagnosis pointers."""

from __future__ import annotations

from decimal import Decimal

from openrcm_shared.codes import MODIFIER, PLACE_OF_SERVICE, PROCEDURE_CODE

from openrcm_claims.domain.scrubber.model import BLOCK, WARN
from openrcm_claims.domain.scrubber.registry import rule

NONE = ()
# 837P SV101-3..6 / 837I SV202-3..6: up to four modifiers. 837P SV107: up to four pointers.
MAX_MODIFIERS = 4
MAX_POINTERS = 4
_ZERO = Decimal(0)


@rule("PROC.FORMAT", BLOCK, "Each procedure code is a CPT (5 digits, or 4 + F/T/U) or HCPCS Level II (letter + 4 digits) code.")
def procedure_format(ctx):
    found = []
    for index, line in enumerate(ctx.claim.lines):
        if not ctx.professional and not line.procedure_code:
            continue  # an 837I line without HCPCS (SV202 is situational); INST.REVENUE_CODE checks it
        if not PROCEDURE_CODE.match(line.procedure_code):
            found.append((f"{line.procedure_code!r} is not a CPT or HCPCS Level II code (five characters, "
                          "e.g. 99213, 0001F, G0439)", f"/lines/{index}/procedure_code"))
    return found


@rule("HCPCS.NOT_VALID", BLOCK, "A HCPCS Level II code is in the loaded CMS HCPCS file and active on the date of service.")
def hcpcs_valid(ctx):
    hcpcs = ctx.code_sets.hcpcs
    if hcpcs is None:
        return NONE  # no CMS HCPCS file loaded: format only (PROC.FORMAT)
    found = []
    for index, line in enumerate(ctx.claim.lines):
        code = line.procedure_code
        if not code[:1].isalpha() or not PROCEDURE_CODE.match(code):
            continue
        entry = hcpcs.entry(code)
        day = line.service_date.toordinal()
        if entry is None:
            message = f"{code} is not in the CMS HCPCS Level II file ({hcpcs.label})"
        elif day < entry.added:
            message = f"{code} is not yet effective on this date of service (HCPCS Level II, {hcpcs.label})"
        elif day > entry.terminated:
            message = f"{code} was discontinued before this date of service (HCPCS Level II, {hcpcs.label})"
        else:
            continue
        found.append((message, f"/lines/{index}/procedure_code"))
    return found


@rule("MOD.FORMAT", BLOCK, "Each modifier is two letters or digits.")
def modifier_format(ctx):
    if not ctx.any_modifiers:
        return NONE
    found = []
    for index, line in enumerate(ctx.claim.lines):
        for position, modifier in enumerate(line.modifiers):
            if not MODIFIER.match(modifier):
                found.append((f"modifier {modifier!r} is not two letters or digits", f"/lines/{index}/modifiers/{position}"))
    return found


@rule("MOD.UNKNOWN", WARN, "A modifier is not in the shipped list of common CPT/HCPCS modifiers (the list is not exhaustive).")
def modifier_unknown(ctx):
    if not ctx.any_modifiers:
        return NONE
    code_sets = ctx.code_sets
    found = []
    for index, line in enumerate(ctx.claim.lines):
        for position, modifier in enumerate(line.modifiers):
            if MODIFIER.match(modifier) and not code_sets.known_modifier(modifier):
                found.append((f"modifier {modifier} is not a known CPT or HCPCS modifier; check it",
                              f"/lines/{index}/modifiers/{position}"))
    return found


@rule("MOD.DUPLICATE", WARN, "A modifier appears at most once on a line.")
def modifier_duplicate(ctx):
    if not ctx.any_modifiers:
        return NONE
    found = []
    for index, line in enumerate(ctx.claim.lines):
        if len(set(line.modifiers)) != len(line.modifiers):
            seen: set[str] = set()
            for position, modifier in enumerate(line.modifiers):
                if modifier in seen:
                    found.append((f"modifier {modifier} is repeated on the line", f"/lines/{index}/modifiers/{position}"))
                seen.add(modifier)
    return found


@rule("LIMIT.MODIFIERS", BLOCK, "At most four modifiers on a line.")
def modifier_limit(ctx):
    if not ctx.any_modifiers:
        return NONE
    found = []
    for index, line in enumerate(ctx.claim.lines):
        if len(line.modifiers) > MAX_MODIFIERS:
            found.append((f"{len(line.modifiers)} modifiers; a line carries at most {MAX_MODIFIERS}",
                          f"/lines/{index}/modifiers/{MAX_MODIFIERS}"))
    return found


@rule("POS.REQUIRED", BLOCK, "837P: a place of service for every line (CLM05-1, or SV105 on the line).")
def pos_required(ctx):
    if not ctx.professional or ctx.claim.place_of_service:
        return NONE
    if all(line.place_of_service for line in ctx.claim.lines):
        return NONE
    return [("the claim has no place of service (CLM05-1) and not every line has one (SV105)", "/place_of_service")]


def _places(ctx):
    claim = ctx.claim
    if claim.place_of_service:
        yield "/place_of_service", claim.place_of_service, None
    for index, line in enumerate(claim.lines):
        if line.place_of_service:
            yield f"/lines/{index}/place_of_service", line.place_of_service, line


@rule("POS.INVALID", BLOCK, "837P: each place of service is an assigned code of the CMS Place of Service code set.")
def pos_invalid(ctx):
    if not ctx.professional:
        return NONE
    known = ctx.code_sets.places_of_service
    found = []
    for pointer, code, _ in _places(ctx):
        if code not in known:
            detail = "is not two digits" if not PLACE_OF_SERVICE.match(code) else "is not an assigned CMS place of service code"
            found.append((f"place of service {code!r} {detail}", pointer))
    return found


@rule("POS.NOT_YET_EFFECTIVE", WARN, "837P: the place of service code was in effect on the date of service.")
def pos_effective(ctx):
    if not ctx.professional:
        return NONE
    known = ctx.code_sets.places_of_service
    claim = ctx.claim
    found = []
    for index, line in enumerate(claim.lines):
        code = line.place_of_service or claim.place_of_service
        place = known.get(code) if code else None
        if place is not None and place.effective is not None and line.service_date < place.effective:
            pointer = f"/lines/{index}/place_of_service" if line.place_of_service else "/place_of_service"
            found.append((f"place of service {code} ({place.name}) took effect {place.effective.isoformat()}, "
                          "after this line's date of service", pointer))
    return found


@rule("UNITS.POSITIVE", BLOCK, "Each line has more than zero units (SV104 / SV205).")
def units_positive(ctx):
    return [(f"line has {line.units} units; units must be greater than zero", f"/lines/{index}/units")
            for index, line in enumerate(ctx.claim.lines) if not line.units > _ZERO]


@rule("CHARGE.POSITIVE", BLOCK, "Each line charge is greater than zero (SV102 / SV203).")
def charge_positive(ctx):
    return [(f"line charge is {line.charge_amount}; it must be greater than zero", f"/lines/{index}/charge_amount")
            for index, line in enumerate(ctx.claim.lines) if not line.charge_amount > _ZERO]


@rule("CLAIM.TOTAL_CHARGE", BLOCK, "CLM02, the claim total, equals the sum of the line charges.")
def total_charge(ctx):
    claim = ctx.claim
    if not claim.lines:
        return NONE
    total = sum((line.charge_amount for line in claim.lines), _ZERO)
    if total != claim.total_charge:
        return [(f"the claim total (CLM02) is {claim.total_charge} but the lines add up to {total}", "/total_charge")]
    return NONE


@rule("DATE.FUTURE", BLOCK, "No date of service is in the future.")
def future_dates(ctx):
    today = ctx.today
    found = []
    for index, line in enumerate(ctx.claim.lines):
        if line.service_date > today:
            found.append(("the date of service is in the future", f"/lines/{index}/service_date"))
        elif line.service_date_to is not None and line.service_date_to > today:
            found.append(("the end of the service period is in the future", f"/lines/{index}/service_date_to"))
    return found


@rule("DATE.RANGE", BLOCK, "A service period does not end before it starts.")
def date_range(ctx):
    return [("the service period ends before it starts", f"/lines/{index}/service_date_to")
            for index, line in enumerate(ctx.claim.lines)
            if line.service_date_to is not None and line.service_date_to < line.service_date]


@rule("POINTER.REQUIRED", BLOCK, "837P SV107: each line points at least at one diagnosis.")
def pointer_required(ctx):
    if not ctx.professional:
        return NONE
    return [("the line points at no diagnosis (SV107-1 is required)", f"/lines/{index}/diagnosis_pointers")
            for index, line in enumerate(ctx.claim.lines) if not line.diagnosis_pointers]


@rule("POINTER.RANGE", BLOCK, "837P SV107: each diagnosis pointer names a diagnosis on the claim (1 to the number of codes).")
def pointer_range(ctx):
    if not ctx.professional:
        return NONE
    count = len(ctx.claim.diagnosis_codes)
    found = []
    for index, line in enumerate(ctx.claim.lines):
        for position, pointer in enumerate(line.diagnosis_pointers):
            if not 1 <= pointer <= count:
                found.append((f"points at diagnosis {pointer}, but the claim has {count}",
                              f"/lines/{index}/diagnosis_pointers/{position}"))
    return found


@rule("POINTER.DISTINCT", BLOCK, "837P SV107: the pointers of a line point at different diagnosis codes.")
def pointer_distinct(ctx):
    if not ctx.professional:
        return NONE
    codes = ctx.claim.diagnosis_codes
    count = len(codes)
    codes_unique = len(set(codes)) == count
    found = []
    for index, line in enumerate(ctx.claim.lines):
        pointers = line.diagnosis_pointers
        if len(pointers) < 2 or (codes_unique and len(set(pointers)) == len(pointers)):
            continue
        seen: set[str] = set()
        for position, pointer in enumerate(line.diagnosis_pointers):
            if not 1 <= pointer <= count:
                continue
            code = codes[pointer - 1]
            if code in seen:
                found.append((f"pointer {pointer} repeats a diagnosis the line already points at",
                              f"/lines/{index}/diagnosis_pointers/{position}"))
            seen.add(code)
    return found


@rule("LIMIT.POINTERS", BLOCK, "837P SV107: at most four diagnosis pointers on a line.")
def pointer_limit(ctx):
    if not ctx.professional:
        return NONE
    return [(f"{len(line.diagnosis_pointers)} diagnosis pointers; a line carries at most {MAX_POINTERS}",
             f"/lines/{index}/diagnosis_pointers/{MAX_POINTERS}")
            for index, line in enumerate(ctx.claim.lines) if len(line.diagnosis_pointers) > MAX_POINTERS]
