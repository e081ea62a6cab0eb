"""Money: Decimal end to end, two places, strings in JSON.

One convention everywhere (API bodies, event payloads, database columns): an amount is a
`decimal.Decimal` with at most two decimal places; JSON carries it as a string such as "125.00",
so no float ever touches a dollar. Columns are NUMERIC(12, 2).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, PlainSerializer

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_cents(amount: Decimal) -> Decimal:
    """Quantize to the cent (half up, as remittance advice rounds)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _reject_float(value: Any) -> Any:
    # A JSON number with a fraction arrives as float and may already have lost a cent
    # (0.1 + 0.2 style); the API contract says strings, so a float is refused outright.
    if isinstance(value, float):
        raise ValueError("money must be a decimal string such as \"125.00\", not a JSON number with a fraction")
    if isinstance(value, bool):
        raise ValueError("money must be a decimal string")
    return value


def money_text(amount: Decimal) -> str:
    """An amount as JSON carries it: to the cent, e.g. "125.00"."""
    text = str(amount)
    if text[-3:-2] == ".":  # already to the cent, as parsed amounts nearly always are: quantizing changes nothing
        return text
    return str(to_cents(amount))


@dataclass(frozen=True)
class _MoneyJsonSchema:
    """Money's JSON Schema as the event contracts committed it (tests/contracts/schemas): the
    digit limits and bounds as `decimal_places`, `max_digits`, `ge`/`gt` beside the type. With the
    limits checked by pydantic-core (see `_money`) pydantic would write them differently (or not
    at all when serialising), which the contracts' compatibility check rightly calls a change."""

    bounds: tuple[tuple[str, Any], ...]

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict:
        schema = handler(core_schema)
        for branch in schema.get("anyOf", ()):
            for key in ("minimum", "exclusiveMinimum"):
                branch.pop(key, None)
        schema.update(decimal_places=2, examples=["125.00"], **dict(self.bounds))
        if handler.mode == "validation":
            schema["max_digits"] = 12
        return schema


def _money(**bounds: Any) -> Any:
    # Every limit sits on the Decimal itself, before the float check: pydantic-core checks them
    # there; after a validator function they would be checked by Python code (~5 us instead of
    # ~1 us per amount, and an encounter or an event carries dozens).
    return Annotated[
        Decimal,
        Field(max_digits=12, decimal_places=2, examples=["125.00"], **bounds),
        BeforeValidator(_reject_float),
        PlainSerializer(money_text, return_type=str, when_used="json"),
        _MoneyJsonSchema(tuple(bounds.items())),
    ]


Money = _money()
"""Any amount: may be negative (reversals, recoupments)."""

NonNegativeMoney = _money(ge=0)
PositiveMoney = _money(gt=0)
