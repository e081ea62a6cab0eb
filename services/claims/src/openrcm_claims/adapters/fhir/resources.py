"""Parsing what a client posts: a Claim, or a Bundle of a Claim and its parties, entry by entry (so
one bad entry of a batch refuses only itself). Each resource is read by the purpose-built model of
what is billed from (claim_json) when it fits it, else validated with fhir.resources, which also
words every refusal; both give the mapping the same objects."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from openrcm_claims.adapters.fhir.claim_json import read_claim_json, read_party_json
from openrcm_claims.adapters.fhir.issues import Issue, Refused, missing_elements, validation_issues
from openrcm_claims.adapters.fhir.references import Resolver

# Claim's 1..1 elements (FHIR R4), checked beside validation (see issues.missing_elements).
_CLAIM_REQUIRED = ("status", "type", "use", "patient", "created", "provider", "priority", "insurance")
# Resources a Bundle may carry beside its Claims: the parties and diagnoses they reference.
PARTY_TYPES = frozenset({"Patient", "RelatedPerson", "Coverage", "Organization", "Practitioner", "Location",
                         "Condition"})
# Bundle.type values POST /fhir takes (FHIR R4 bundle-type): a transaction is all or nothing, a
# batch (and a collection, which has no processing rules of its own) entry by entry.
BUNDLE_TYPES = ("transaction", "batch", "collection")


def json_body(body: bytes) -> Any:
    """The request body as JSON, decimals kept exact (a float would turn 125.10 into 125.09999...),
    NaN and Infinity (which JSON does not have; Python's parser takes them) as Decimals too: a FHIR
    decimal refuses them, and the Idempotency-Key fingerprint takes numbers as Decimals."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=Decimal)
    except ValueError as invalid:
        raise Refused(400, [Issue("structure", "", f"the body is not JSON: {invalid}")]) from None


def parse_resource(raw: Any, root: str, expected: str | None = None) -> tuple[Any | None, list[Issue]]:
    """A FHIR resource of any type (or of `expected`) validated; (None, issues) when it is not one."""
    if not isinstance(raw, dict):
        return None, [Issue("structure", root, "a resource is a JSON object")]
    kind = raw.get("resourceType")
    if expected is not None and kind != expected:
        return None, [Issue("structure", root + ".resourceType", f"expected a {expected}, got {kind!r}")]
    issues = _unknown_types(raw, root)
    model_class = get_fhir_model_class(kind) if _known_type(kind) else None
    if model_class is None:
        issues.append(Issue("structure", root + ".resourceType", f"{kind!r} is not a FHIR R4 resource type"))
    if issues:
        return None, issues
    try:
        return model_class.model_validate(raw), []
    except ValidationError as invalid:
        issues = validation_issues(invalid, root)
        if kind == "Claim":
            issues += missing_elements(raw, _CLAIM_REQUIRED, root, issues)
        return None, issues


def _unknown_types(node: Any, path: str, *, top: bool = True) -> list[Issue]:
    """Resources of no FHIR type anywhere inside (contained, nested): fhir.resources fails on
    those with a KeyError instead of a validation error."""
    issues: list[Issue] = []
    _find_unknown_types(node, [path], top, issues)
    return issues


def _find_unknown_types(node: Any, parts: list[str], top: bool, issues: list[Issue]) -> None:
    # Walks every element of every request body: the path is joined only for an issue found.
    if isinstance(node, dict):
        if not top and "resourceType" in node and not _known_type(node["resourceType"]):
            issues.append(Issue("structure", "".join(parts) + ".resourceType",
                                f"{node['resourceType']!r} is not a FHIR R4 resource type"))
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                parts.append(f".{key}")
                _find_unknown_types(value, parts, False, issues)
                parts.pop()
    elif isinstance(node, list):
        for index, value in enumerate(node):
            if isinstance(value, (dict, list)):
                parts.append(f"[{index}]")
                _find_unknown_types(value, parts, False, issues)
                parts.pop()


@functools.lru_cache(maxsize=512)
def _known_type_cached(kind: str) -> bool:
    try:
        return get_fhir_model_class(kind) is not None
    except ValueError:
        return False


def _known_type(kind: Any) -> bool:
    return isinstance(kind, str) and _known_type_cached(kind)


def read_resource(raw: Any, root: str, expected: str | None = None) -> tuple[Any | None, list[Issue]]:
    """parse_resource's answer, by the purpose-built model when the resource fits it (a Claim or
    a party of one: ~20 times less CPU), else by fhir.resources."""
    kind = raw.get("resourceType") if isinstance(raw, dict) else None
    if isinstance(kind, str) and (expected is None or kind == expected):
        fast = read_claim_json(raw) if kind == "Claim" else read_party_json(raw) if kind in PARTY_TYPES else None
        if fast is not None:
            return fast, []
    return parse_resource(raw, root, expected)


def parse_claim(raw: Any) -> Any:
    """POST /fhir/Claim's body as a Claim; Refused (422) with every validation issue otherwise."""
    claim, issues = read_resource(raw, "Claim", expected="Claim")
    if issues:
        raise Refused(422, issues)
    return claim


@dataclass
class Entry:
    """One Bundle entry: its place, fullUrl, request, resource (None when invalid) and issues."""

    index: int
    full_url: str | None
    method: str | None
    resource: Any = None
    issues: list[Issue] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def kind(self) -> str | None:
        return self.resource.get_resource_type() if self.resource is not None else None


@dataclass
class ParsedBundle:
    type: str
    entries: list[Entry]
    resolver: Resolver


def parse_bundle(raw: Any) -> ParsedBundle:
    """POST /fhir's body: a transaction, batch or collection Bundle. Refused (422) when the Bundle
    itself is not one; an entry that is not valid keeps its issues (a batch refuses it alone)."""
    if not isinstance(raw, dict) or raw.get("resourceType") != "Bundle":
        kind = raw.get("resourceType") if isinstance(raw, dict) else None
        raise Refused(422, [Issue("structure", "Bundle.resourceType", f"POST /fhir takes a Bundle, not {kind!r}; "
                                                                      "a lone Claim goes to POST /fhir/Claim")])
    entries_raw = raw.get("entry") if isinstance(raw.get("entry"), list) else []
    shell = {**raw, "entry": [{k: v for k, v in e.items() if k != "resource"} if isinstance(e, dict) else e
                              for e in entries_raw]}
    try:
        bundle = Bundle.model_validate(shell)
    except ValidationError as invalid:
        raise Refused(422, validation_issues(invalid, "Bundle")) from None
    if bundle.type not in BUNDLE_TYPES:
        raise Refused(422, [Issue("not-supported", "Bundle.type", f"a {bundle.type} Bundle is not taken "
                                                                  f"({', '.join(BUNDLE_TYPES)} are)")])
    if not entries_raw:
        raise Refused(422, [Issue("required", "Bundle.entry", "at least one entry, a Claim")])
    entries = [_entry(index, shell_entry, raw_entry.get("resource") if isinstance(raw_entry, dict) else None,
                      bundle.type)
               for index, (shell_entry, raw_entry) in enumerate(zip(bundle.entry, entries_raw))]
    _check_full_urls(entries)
    resolver = Resolver(
        entries={e.full_url: (e.resource, e.path + ".resource") for e in entries if e.full_url and e.resource is not None},
        invalid={e.full_url: e.path for e in entries if e.full_url and e.resource is None})
    if not any(e.kind == "Claim" or e.resource is None for e in entries):
        raise Refused(422, [Issue("required", "Bundle.entry", "no entry is a Claim")])
    return ParsedBundle(bundle.type, entries, resolver)


def _entry(index: int, shell_entry, raw_resource, bundle_type: str) -> Entry:
    request = shell_entry.request
    entry = Entry(index, shell_entry.fullUrl, request.method if request is not None else None)
    resource, entry.issues = read_resource(raw_resource, f"{entry.path}.resource")
    kind = resource.get_resource_type() if resource is not None else None
    if resource is not None and kind != "Claim" and kind not in PARTY_TYPES:
        entry.issues.append(Issue("not-supported", f"{entry.path}.resource", f"{kind} resources are not taken here "
                                                                             "(Claims and the parties they reference are)"))
        resource = None
    if bundle_type != "collection":
        entry.issues += _request_issues(entry, request, kind)
    entry.resource = None if entry.issues else resource
    return entry


def _request_issues(entry: Entry, request, kind: str | None) -> list[Issue]:
    if request is None:
        return [Issue("required", f"{entry.path}.request", "a transaction or batch entry has a request")]
    if kind == "Claim" and (request.method != "POST" or request.url.split("?")[0] != "Claim"):
        return [Issue("not-supported", f"{entry.path}.request", f"{request.method} {request.url}: a Claim is "
                                                                "taken by POST Claim")]
    if kind != "Claim" and request.method not in ("POST", "PUT"):
        return [Issue("not-supported", f"{entry.path}.request.method", f"{request.method}: a party is sent with "
                                                                       "POST or PUT (it is read, not stored)")]
    return []


def _check_full_urls(entries: list[Entry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        if entry.full_url is None:
            continue
        if entry.full_url in seen:
            entry.issues.append(Issue("invariant", f"{entry.path}.fullUrl", f"fullUrl {entry.full_url!r} is also "
                                                                            f"Bundle.entry[{seen[entry.full_url]}]'s"))
            entry.resource = None
        seen.setdefault(entry.full_url, entry.index)
