"""The README's table of scopes per route is what the services declare in their OpenAPI, and no
API route is left without a scope."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

from openrcm_devstack.services import SERVICES
from openrcm_shared.security.authorization import SECURITY_SCHEME_NAME
from openrcm_shared.security.scopes import ALL_SCOPES

README = Path(__file__).resolve().parents[2] / "README.md"
SIGNED = "— (Standard Webhooks signature)"


def declared() -> set[tuple[str, str, str]]:
    rows = set()
    for spec in SERVICES:
        document = importlib.import_module(f"{spec.package}.main").app.openapi()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if path.startswith("/v1/webhooks/"):
                    rows.add((spec.name, f"{method.upper()} {path}", SIGNED))
                    continue
                assert path.startswith(("/v1/", "/fhir/")) or path == "/fhir", path  # /fhir: the FHIR base
                [requirement] = operation["security"]
                scopes = requirement[SECURITY_SCHEME_NAME]
                assert scopes and set(scopes) <= set(ALL_SCOPES), (path, scopes)
                rows.add((spec.name, f"{method.upper()} {path}", ", ".join(f"`{s}`" for s in scopes)))
    return rows


def documented() -> set[tuple[str, str, str]]:
    pattern = re.compile(r"^\| (\w+) \| `([A-Z]+ [^`]+)` \| (.+) \|$")
    return {match.groups() for line in README.read_text().splitlines() if (match := pattern.match(line))}


def test_the_readme_lists_every_route_with_the_scope_its_service_declares():
    assert declared() == documented()
