"""A denial case's lines, categorized, and what the case takes from them: its category is the category of
the denial line with the most money; its recoverable amount is the sum of its denial lines."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Mapping

from openrcm_denials.domain.categories import Categorization, DenialCategorizer, PayerOverride

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class DeniedLine:
    line_number: int | None
    group_code: str
    carc: str
    rarcs: tuple[str, ...]
    amount: Decimal


@dataclass(frozen=True)
class CategorizedLine:
    line: DeniedLine
    procedure_code: str | None
    found: Categorization


@dataclass(frozen=True)
class CaseCategorization:
    lines: tuple[CategorizedLine, ...]

    @property
    def denial_lines(self) -> tuple[CategorizedLine, ...]:
        return tuple(line for line in self.lines if line.found.is_denial)

    @property
    def is_denial(self) -> bool:
        return bool(self.denial_lines)

    @property
    def top(self) -> CategorizedLine:
        """The denial line with the most money (the first of equals, in the remittance's order)."""
        return max(self.denial_lines, key=lambda categorized: categorized.line.amount)

    @property
    def recoverable_amount(self) -> Decimal:
        return sum((categorized.line.amount for categorized in self.denial_lines), ZERO)


def categorize_case(categorizer: DenialCategorizer, lines: Iterable[DeniedLine], *,
                    overrides: Mapping[str, PayerOverride], procedures: Mapping[int, str]) -> CaseCategorization:
    """Each line categorized with this payer's overrides; a line's procedure is that of its service line
    in the remittance (`procedures`, by line number), none for a claim-level denial."""
    return CaseCategorization(tuple(
        CategorizedLine(line, procedures.get(line.line_number) if line.line_number is not None else None,
                        categorizer.categorize(line.group_code, line.carc, line.rarcs, overrides.get(line.carc)))
        for line in lines))


def denied_lines_of(items: Iterable) -> list[DeniedLine]:
    """From the contract's DeniedItem (or a stored JSON dict of one)."""
    def field(item, name):
        return item[name] if isinstance(item, dict) else getattr(item, name)
    return [DeniedLine(field(i, "line_number"), field(i, "group_code"), field(i, "carc"),
                       tuple(field(i, "rarcs") or ()), Decimal(str(field(i, "amount")))) for i in items]
