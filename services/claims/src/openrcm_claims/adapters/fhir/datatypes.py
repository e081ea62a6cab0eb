"""Reading FHIR datatypes the way the 837 needs them: codings chosen by code system (never by
position), dates that must name a day, money in US dollars to the cent, identifiers by system."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from openrcm_claims.adapters.fhir.issues import Issue
from openrcm_claims.adapters.fhir.systems import NAMES, canonical


def choose_code(concept, path: str, systems: tuple[str, ...], issues: list[Issue], what: str, *,
                required: bool = True) -> tuple[str, str] | None:
    """(system, code) of the coding of `concept` in one of `systems` (or their aliases). Codings
    in other systems are ignored when one qualifies (an EHR's local code beside the CPT code);
    none qualifying, or two naming different codes, is an issue at `path`."""
    codings = getattr(concept, "coding", None) or []
    qualifying = {(system, coding.code.strip()) for coding in codings
                  if coding.code and (system := canonical(coding.system, systems)) is not None}
    if len(qualifying) == 1:
        return next(iter(qualifying))
    if len(qualifying) > 1:
        named = ", ".join(f"{NAMES.get(s, s)} {c}" for s, c in sorted(qualifying))
        issues.append(Issue("multiple-matches", path, f"{what}: {named} all qualify; send one"))
        return None
    if required:
        wanted = " or ".join(NAMES.get(s, s) for s in systems)
        found = ", ".join(f"{c.system or '(no system)'}|{c.code}" for c in codings)
        issues.append(Issue("code-invalid" if codings else "required", path,
                            f"{what}: no coding in {wanted} ({' or '.join(systems)})"
                            + (f"; found {found}" if found else "")))
    return None


def has_code(concept, system: str, *codes: str) -> str | None:
    """The code of `concept` in exactly `system` when it is one of `codes` (any when none given)."""
    for coding in getattr(concept, "coding", None) or []:
        if coding.system == system and coding.code and (not codes or coding.code in codes):
            return coding.code
    return None


def day(value, path: str, issues: list[Issue], what: str) -> date | None:
    """A FHIR date or dateTime as the day it names, as written (a dateTime's own offset, never
    converted). A partial date (1974, 1974-06) is valid FHIR but names no day: an issue."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    issues.append(Issue("value", path, f"{what} {value!r} is a partial date; the 837 needs the day"))
    return None


def hour(value) -> int | None:
    """The hour a dateTime names, when it names one (DTP*435 / DTP*096 carry hours)."""
    return value.hour if isinstance(value, datetime) else None


def dollars(money, path: str, issues: list[Issue]) -> Decimal | None:
    """A Money's value when in US dollars (currency absent or USD)."""
    if money is None or money.value is None:
        return None
    if money.currency not in (None, "USD"):
        issues.append(Issue("not-supported", path + ".currency", f"{money.currency}: claims are billed in USD"))
        return None
    return Decimal(money.value)


def identifier(identifiers, system: str) -> str | None:
    for entry in identifiers or []:
        if entry.system == system and entry.value:
            return entry.value.strip()
    return None


def typed_identifier(identifiers, type_system: str, type_code: str) -> str | None:
    """The value of the identifier whose type is `type_code` (e.g. v2-0203 MR, MB)."""
    for entry in identifiers or []:
        if entry.value and has_code(entry.type, type_system, type_code):
            return entry.value.strip()
    return None


def address(addresses, path: str, pointer: str, sources, uses: tuple[str, ...] = ("home", "work")) -> dict | None:
    """The first address of the preferred `uses` (else the first), as the encounter's address;
    records where each of its fields came from. `addresses`: a list, or one Address (0..1)."""
    if not addresses:
        return None
    if not isinstance(addresses, list):
        chosen, at = addresses, f"{path}.address"
    else:
        ranked = sorted(enumerate(addresses), key=lambda pair: uses.index(pair[1].use) if pair[1].use in uses
                        else len(uses))
        index, chosen = ranked[0]
        at = f"{path}.address[{index}]"
    for field, element in (("line1", "line"), ("line2", "line"), ("city", "city"), ("state", "state"),
                           ("postal_code", "postalCode")):
        sources.add(f"{pointer}/{field}", f"{at}.{element}")
    sources.add(pointer, at)
    lines = list(chosen.line or [])
    return {"line1": lines[0] if lines else "", "line2": lines[1] if len(lines) > 1 else None,
            "city": chosen.city or "", "state": chosen.state or "", "postal_code": chosen.postalCode or ""}


def person_name(names) -> tuple[str, str]:
    """(given, family) of the official or usual name, else the first."""
    if not names:
        return "", ""
    chosen = next((n for n in names if n.use in ("official", "usual")), names[0])
    return (chosen.given or [""])[0], chosen.family or ""
