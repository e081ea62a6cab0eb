"""Refusals as FHIR OperationOutcome issues, each naming its element by FHIRPath.

Everything the intake refuses is an `Issue` (an IssueType code, the FHIRPath of the element at
fault, what is wrong); a request is answered with all of them in one OperationOutcome. Problems
found after the Claim became an encounter (the encounter's validators, the registry, the payer)
carry JSON pointers into the encounter; `SourceMap` knows which element each encounter field was
read from, so they too name FHIR elements, never the encounter's fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from fhir.resources.R4B.operationoutcome import OperationOutcome
from pydantic import ValidationError

from openrcm_shared.http.problems import Problem


@dataclass(frozen=True)
class Issue:
    """One problem: `code` from the FHIR IssueType value set (required, value, code-invalid,
    not-supported, not-found, invariant, business-rule, duplicate, conflict, structure, ...)."""

    code: str
    expression: str
    diagnostics: str
    severity: str = "error"


class Refused(Exception):
    """The request is not taken; `issues` say why (all of them), `status` is the HTTP answer."""

    def __init__(self, status: int, issues: list[Issue]) -> None:
        super().__init__("; ".join(f"{i.expression}: {i.diagnostics}" for i in issues))
        self.status = status
        self.issues = issues


def operation_outcome(issues: list[Issue]) -> dict:
    """The issues as an R4 OperationOutcome (validated), expressions in `expression`."""
    outcome = OperationOutcome.model_validate({"resourceType": "OperationOutcome", "issue": [
        {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics,
         **({"expression": [issue.expression]} if issue.expression else {})} for issue in issues]})
    return outcome.model_dump(mode="json", exclude_none=True)


def fhirpath(root: str, location: tuple) -> str:
    """A pydantic location inside a FHIR resource as FHIRPath: ('item', 1, 'net') -> root.item[1].net."""
    path = root
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            name = str(part).removesuffix("__ext")  # fhir.resources keeps a primitive's extension beside it
            path += ".resourceType" if name == "resource_type" else f".{name}"
    return path


def validation_issues(invalid: ValidationError, root: str) -> list[Issue]:
    """fhir.resources' validation errors as issues under `root` (e.g. `Claim`)."""
    issues = []
    for error in invalid.errors(include_input=False):
        kind = error["type"]
        code = "required" if kind == "missing" else "structure" if kind == "extra_forbidden" else "value"
        message = error["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = "not an element of this resource in FHIR R4"
        issues.append(Issue(code, fhirpath(root, tuple(error["loc"])), message))
    return issues


def missing_elements(raw: dict, required: tuple[str, ...], root: str, already: list[Issue]) -> list[Issue]:
    """Required elements absent from `raw` that validation did not name yet (fhir.resources
    checks required primitives only once every other element is valid)."""
    named = {issue.expression for issue in already}
    return [Issue("required", f"{root}.{name}", "required (1..1 in FHIR R4)")
            for name in required if raw.get(name) in (None, "", []) and f"{root}.{name}" not in named]


class SourceMap:
    """Encounter field (JSON pointer) -> the FHIR element it was read from (FHIRPath). A pointer
    maps through its longest known prefix, so /lines/0/charge_amount names the item's net even
    when only /lines/0 was recorded; the root names the Claim itself."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._paths: dict[str, str] = {}
        self._consequences: set[str] = set()

    def add(self, pointer: str, expression: str) -> None:
        self._paths[pointer] = expression

    def consequence(self, pointer: str) -> None:
        """Problems of this field only follow from one reported already (a line whose every
        diagnosis was refused has no pointers left): not reported again."""
        self._consequences.add(pointer)

    def is_consequence(self, pointer: str) -> bool:
        return self.covers(pointer, self._consequences)

    def expression(self, pointer: str) -> str:
        parts = [part for part in pointer.split("/") if part]
        while parts:
            found = self._paths.get("/" + "/".join(parts))
            if found is not None:
                return found
            parts.pop()
        return self.root

    def covers(self, pointer: str, flagged: set[str]) -> bool:
        """Whether `pointer` is under one of the `flagged` pointers (already reported)."""
        return any(pointer == f or pointer.startswith(f + "/") for f in flagged)


def encounter_issues(problems: list[tuple[str, str]], sources: SourceMap, code: str = "invalid") -> list[Issue]:
    """(JSON pointer, message) problems of the encounter as issues on the FHIR elements."""
    return [Issue(code, sources.expression(pointer), message) for pointer, message in problems
            if not sources.is_consequence(pointer)]


def problem_issues(problem: Problem, sources: SourceMap) -> list[Issue]:
    """A service-layer refusal (registry, payer, duplicate encounter) as issues."""
    code = {409: "duplicate", 404: "not-found"}.get(problem.status, "business-rule")
    errors = problem.errors or []
    if not errors:
        return [Issue(code, sources.root, problem.detail or problem.title)]
    return [Issue(code, sources.expression(e["pointer"]), f"{problem.title}: {e['detail']}") for e in errors]
