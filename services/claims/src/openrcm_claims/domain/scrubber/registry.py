"""The rule registry: every rule is a small function registered with a stable id, a fixed
severity and a one-line description. Ids never change meaning; a rule that changes behaviour gets
a new RULE_SET_VERSION (engine.py), a rule that is retired keeps its id reserved."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from openrcm_claims.domain.scrubber.model import SEVERITIES

if TYPE_CHECKING:
    from openrcm_claims.domain.scrubber.context import Context

# A check returns (message, pointer) pairs, or an empty sequence when the claim passes.
Check = Callable[["Context"], Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class RuleInfo:
    id: str
    severity: str
    description: str


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str
    description: str
    check: Check

    @property
    def info(self) -> RuleInfo:
        return RuleInfo(self.id, self.severity, self.description)


RULES: list[Rule] = []
_IDS: set[str] = set()


def rule(rule_id: str, severity: str, description: str) -> Callable[[Check], Check]:
    if severity not in SEVERITIES:
        raise ValueError(f"{rule_id}: severity must be one of {sorted(SEVERITIES)}")
    if rule_id in _IDS:
        raise ValueError(f"rule id {rule_id} registered twice")
    if "\n" in description or not description:
        raise ValueError(f"{rule_id}: the description is one line")

    def register(check: Check) -> Check:
        _IDS.add(rule_id)
        RULES.append(Rule(rule_id, severity, description, check))
        return check
    return register
