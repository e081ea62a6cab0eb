"""Small code sets shipped as data files in this package: CMS Place of Service codes and common
CPT/HCPCS modifiers (with the NCCI PTP-associated flag)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib.resources import files


def _data_rows(name: str) -> list[dict[str, str]]:
    text = files("openrcm_claims.domain.scrubber").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if line.strip() and not line.startswith("#")))


@dataclass(frozen=True)
class PlaceOfService:
    code: str
    name: str
    effective: date | None


@dataclass(frozen=True)
class Modifier:
    code: str
    level: str  # "CPT" | "HCPCS"
    ncci_associated: bool
    label: str


def load_places_of_service() -> dict[str, PlaceOfService]:
    return {row["code"]: PlaceOfService(row["code"], row["name"],
                                        date.fromisoformat(row["effective"]) if row["effective"] else None)
            for row in _data_rows("place_of_service.csv")}


def load_modifiers() -> dict[str, Modifier]:
    return {row["code"]: Modifier(row["code"], row["level"], row["ncci"] == "1", row["label"])
            for row in _data_rows("modifiers.csv")}
