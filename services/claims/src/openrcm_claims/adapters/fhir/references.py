"""Resolving a Claim's references to its parties (FHIR R4 "Resource References", Bundle
"Resolving references in Bundles"):

- `#id`: a resource contained in the resource holding the reference (its container);
- a Bundle entry's `fullUrl` (urn:uuid:…, urn:oid:… or an absolute URL), matched exactly;
- `Type/id` relative to the referring entry's base when its fullUrl is RESTful
  (`https://ehr.example/fhir/Claim/1` -> `https://ehr.example/fhir/Patient/7`), else any entry
  whose fullUrl ends with `/Type/id`;
- otherwise `Patient/{id}`, `Coverage/{id}`, `Practitioner/{id}`, `Organization/{id}` and
  `Location/{id}` name parties the practice registered (the caller looks them up);
- a conditional reference, `Type?identifier=[system]|[value]` (R4 Bundle "conditional
  references", as Synthea's transaction Bundles name their Organizations and Practitioners): the
  one entry of that type carrying the identifier (token matching as in FHIR search: `system|value`,
  `|value` for no system, `value` for any); none in the Bundle, the caller looks a registered party
  up by the identifier (ByIdentifier): a provider by NPI, a payer by any identifier registered for it.

Anything else (a URL outside the Bundle, a logical reference by identifier where the intake does
not read one) is refused with the reference's FHIRPath: nothing is fetched from elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from openrcm_claims.adapters.fhir.issues import Issue

# A RESTful resource URL: [base]/Type/id, optionally with a version.
_RESTFUL = re.compile(r"^(?P<base>.+)/(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$")
_RELATIVE = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9\-.]{1,64})(/_history/[^/]+)?$")
_CONDITIONAL = re.compile(r"^(?P<type>[A-Z][A-Za-z]+)\?(?P<query>.+)$")
REGISTERED_KINDS = frozenset({"Patient", "Coverage", "Practitioner", "Organization", "Location"})


@dataclass(frozen=True)
class Found:
    """A resource the reference points at, and where it lives: `path` names it in FHIRPath for
    issues about its elements, `container` resolves its own `#id` references, `base` is the
    fullUrl of its Bundle entry (its relative references resolve against it)."""

    resource: Any
    path: str
    container: Any
    base: str | None
    key: str  # the same resource reached twice has the same key


@dataclass(frozen=True)
class Registered:
    """`Type/id` naming a party the practice registered (not in the Bundle)."""

    kind: str
    id: str
    path: str


@dataclass(frozen=True)
class ByIdentifier:
    """`Type?identifier=system|value` matching no entry of the Bundle: a registered party, looked
    up by the identifier (`system` None: any system; "": none)."""

    kind: str
    system: str | None
    value: str
    path: str


@dataclass(frozen=True)
class Place:
    """Where a reference is read from: its FHIRPath, the resource holding it, that one's base."""

    path: str
    container: Any
    base: str | None = None

    def at(self, suffix: str) -> "Place":
        return Place(self.path + suffix, self.container, self.base)


class Resolver:
    """Resolves references within one Claim or Bundle. `entries`: fullUrl -> (resource, FHIRPath
    of the entry's resource); `invalid`: fullUrl -> FHIRPath of an entry that failed validation."""

    def __init__(self, entries: dict[str, tuple[Any, str]] | None = None,
                 invalid: dict[str, str] | None = None) -> None:
        self.entries = entries or {}
        self.invalid = invalid or {}
        self.used: set[str] = set()  # the entries some reference resolved to

    def resolve(self, reference, place: Place, kinds: tuple[str, ...],
                issues: list[Issue]) -> Found | Registered | ByIdentifier | None:
        """What `reference` (a FHIR Reference at `place`) points at, if it is one of `kinds`;
        None with an issue naming `place.path` otherwise."""
        target = getattr(reference, "reference", None) if reference is not None else None
        if not target:
            detail = ("a logical reference by identifier is read only for the insurer and payor; reference the "
                      "resource" if getattr(reference, "identifier", None) else "required: a reference to the "
                      + " or ".join(kinds))
            issues.append(Issue("required" if reference is None or not reference.identifier else "not-supported",
                                place.path, detail))
            return None
        if target.startswith("#"):
            return self._contained(target[1:], place, kinds, issues)
        if target in self.entries or target in self.invalid:
            return self._entry(target, place, kinds, issues)
        conditional = _CONDITIONAL.match(target)
        if conditional is not None:
            return self._conditional(conditional, place, kinds, issues)
        relative = _RELATIVE.match(target)
        if relative is None:
            issues.append(Issue("not-found", place.path, f"{target!r} is not in this Bundle; only contained (#id), "
                                                         f"Bundle entries and registered parties (Type/id) are read"))
            return None
        in_bundle = self._relative_entry(target, relative, place)
        if in_bundle is not None:
            return self._entry(in_bundle, place, kinds, issues)
        kind = relative["type"]
        if kind not in kinds:
            issues.append(_wrong_kind(kind, place, kinds))
            return None
        if kind not in REGISTERED_KINDS:
            issues.append(Issue("not-found", place.path, f"{target!r} is neither contained nor in this Bundle"))
            return None
        return Registered(kind, relative["id"], place.path)

    def _contained(self, local_id: str, place: Place, kinds, issues) -> Found | None:
        for index, resource in enumerate(getattr(place.container, "contained", None) or []):
            if resource.id == local_id:
                kind = resource.get_resource_type()
                if kind not in kinds:
                    issues.append(Issue("invalid", place.path, f"#{local_id} is a {kind}; expected a "
                                                               f"{' or '.join(kinds)}"))
                    return None
                return Found(resource, place.path + ".resolve()", place.container, place.base,
                             key=f"{id(place.container)}#{local_id}")
        issues.append(Issue("not-found", place.path, f"no contained resource has id {local_id!r}"))
        return None

    def _entry(self, full_url: str, place: Place, kinds, issues) -> Found | None:
        if full_url in self.invalid:
            issues.append(Issue("invalid", place.path, f"{full_url!r} is {self.invalid[full_url]}, which is not "
                                                       "valid (see the issues about it)"))
            return None
        resource, _entry_path = self.entries[full_url]
        kind = resource.get_resource_type()
        if kind not in kinds:
            issues.append(Issue("invalid", place.path, f"{full_url!r} is a {kind}; expected a {' or '.join(kinds)}"))
            return None
        self.used.add(full_url)
        return Found(resource, place.path + ".resolve()", resource, full_url, key=full_url)

    def _conditional(self, conditional: re.Match, place: Place, kinds,
                     issues) -> Found | ByIdentifier | None:
        kind = conditional["type"]
        if kind not in kinds:
            issues.append(_wrong_kind(kind, place, kinds))
            return None
        token = _identifier_token(conditional["query"])
        if token is None:
            issues.append(Issue("not-supported", place.path, "a conditional reference is read by one identifier "
                                                             "only: Type?identifier=system|value"))
            return None
        system, value = token
        matches = [full_url for full_url, (resource, _path) in self.entries.items()
                   if resource.get_resource_type() == kind and _has_identifier(resource, system, value)]
        if len(matches) > 1:
            issues.append(Issue("multiple-matches", place.path, f"{len(matches)} entries of this Bundle match: "
                                                                f"{', '.join(matches)}"))
            return None
        if matches:
            return self._entry(matches[0], place, kinds, issues)
        return ByIdentifier(kind, system, value, place.path)

    def _relative_entry(self, target: str, relative: re.Match, place: Place) -> str | None:
        base = _RESTFUL.match(place.base) if place.base else None
        if base is not None:
            absolute = f"{base['base']}/{relative['type']}/{relative['id']}"
            if absolute in self.entries or absolute in self.invalid:
                return absolute
            return None
        suffix = f"/{relative['type']}/{relative['id']}"
        for full_url in (*self.entries, *self.invalid):
            if full_url.endswith(suffix) or full_url == target:
                return full_url
        return None


def _wrong_kind(kind: str, place: Place, kinds) -> Issue:
    return Issue("invalid", place.path, f"references a {kind}; expected a {' or '.join(kinds)}")


def _identifier_token(query: str) -> tuple[str | None, str] | None:
    """(system, value) of a search query that is exactly one `identifier` token; None otherwise.
    `system|value`, `|value` (system "": the identifier has none), `value` (system None: any)."""
    try:
        parameters = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    if len(parameters) != 1 or parameters[0][0] != "identifier" or not parameters[0][1]:
        return None
    system, bar, value = parameters[0][1].rpartition("|")
    if not value:
        return None
    return (system if bar else None), value


def _has_identifier(resource, system: str | None, value: str) -> bool:
    for identifier in getattr(resource, "identifier", None) or []:
        if identifier.value == value and (system is None or (identifier.system or "") == system):
            return True
    return False
