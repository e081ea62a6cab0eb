"""The API fuzzing tier: schemathesis over every service's live OpenAPI, with a valid token.

For each service's API process (the claims worker serves no API routes of its own) the module
loads `/openapi.json` from the running test stack and generates requests for every operation from
it: the schema's examples, the coverage phase's boundary and invalid values (for every parameter
and body field), and random valid and invalid data. Every response must be:

- no server error (5xx);
- a status code the operation documents;
- a Content-Type the operation documents for that status;
- a body that conforms to the schema documented for it.

Same seed, same cases: the generation is derandomized, Hypothesis keeps no example database and
draws no constants from the modules the session happened to load (`_fixed_constants`), so a
failure seen once is seen on every run, alone or in the whole suite, and a run finds nothing new
unless the API or its OpenAPI changed. The random cases per operation are bounded
(`EXAMPLES_PER_OPERATION`), and so is every request (`REQUEST_TIMEOUT_SECONDS`).

The webhook routes (`/v1/webhooks/*`) are left out: they are authenticated by the clearinghouse's
Standard Webhooks signature over the raw body, not by a token, so every generated request would
stop at the signature check (401) without reaching a parser. Their parsers are tested with signed
bodies (tests/e2e/test_clearinghouse_webhooks.py, test_era_posting.py) and the 835 parser by
mutation (shared/tests/unit/x12/test_835_mutations.py).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from hypothesis.internal.conjecture import providers as hypothesis_providers

from conftest import TEST_PAYER, auth_headers

pytestmark = pytest.mark.stack

FUZZ_SEED = 13
# Random cases per operation in the fuzzing phase; the examples and coverage phases add their own,
# fixed, cases (about 8,900 requests in all). Measured on the two-core development machine: 1:45
# to 2:05 for `./openrcm test tests/fuzz` on its own, the stack's start (~35 s) included; several
# times that while other test runs share the cores.
EXAMPLES_PER_OPERATION = 100
REQUEST_TIMEOUT_SECONDS = 30
WEBHOOK_PATHS = r"^/v1/webhooks/"
# Routes whose body is the encounter of POST /v1/encounters: the coverage phase makes ~1,500 cases
# of that body (generating them took longer than the rest of the tier), POST /v1/encounters gets
# them all; these two get the examples and the random cases.
SAME_BODY_AS_ENCOUNTERS = ["/v1/claims/{claim_id}/encounter", "/v1/claims/{claim_id}/replace"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request):
    """schemathesis 4.32's pytest loader labels each operation's subtest through `Function._nodeid`,
    an attribute pytest 9.2 no longer has (it keeps the id in `_id`); a plain attribute of that
    name lets the loader run, and pytest's own reports keep using the real node id."""
    request.node._nodeid = request.node.nodeid


@pytest.fixture(scope="module", autouse=True)
def _fixed_constants():
    """Hypothesis draws, now and then, a literal found in the project's modules loaded in the process
    (its "local constants", hypothesis.internal.conjecture.providers). Which modules are loaded
    depends on what else the session collected and ran, so the same seed gave other cases in the
    whole suite than alone. Here it draws from its own fixed constants only (the cache of constants
    already computed is emptied, before and after)."""
    assert hasattr(hypothesis_providers, "_get_local_constants"), \
        "Hypothesis changed how it draws local constants: check this tier is still deterministic"
    original = hypothesis_providers._get_local_constants
    hypothesis_providers._get_local_constants = hypothesis_providers.Constants  # returns an empty pool
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()
    yield
    hypothesis_providers._get_local_constants = original
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()


@pytest.fixture(scope="module")
def fuzz_headers(stack) -> dict[str, str]:
    """A fresh practice with every scope, its payer 60054 registered so that intake requests (the
    schema's example encounter) go past the payer lookup into scrubbing and storage."""
    tenant = f"fuzz-{uuid.uuid4().hex[:12]}"
    headers = auth_headers(stack, tenant)
    registered = httpx.put(f"{stack.services['claims'].url}/v1/payers/60054", json=TEST_PAYER, headers=headers,
                           timeout=REQUEST_TIMEOUT_SECONDS)
    assert registered.status_code == 200, registered.text
    return headers


def fuzz_config(headers: dict[str, str]) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": FUZZ_SEED,
        # Hypothesis's health checks judge how fast data is generated, not the API.
        "suppress-health-check": ["all"],
        "headers": headers,
        "request-timeout": REQUEST_TIMEOUT_SECONDS,
        "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION, "deterministic": True,
                       "database": "none"},
        "phases": {"stateful": {"enabled": False}},
        "operations": [{"include-path": SAME_BODY_AS_ENCOUNTERS, "phases": {"coverage": {"enabled": False}}}],
    })


def _openapi(service: str):
    @pytest.fixture(scope="module")
    def load(stack, fuzz_headers):
        url = f"{stack.services[service].url}/openapi.json"
        return schemathesis.openapi.from_url(url, config=fuzz_config(fuzz_headers), timeout=REQUEST_TIMEOUT_SECONDS)

    return load


claims_openapi = _openapi("claims")
eligibility_openapi = _openapi("eligibility")
remittance_openapi = _openapi("remittance")
denials_openapi = _openapi("denials")
collections_openapi = _openapi("collections")


def exercise(case) -> None:
    case.call_and_validate(checks=CHECKS)


def _fuzz(fixture: str):
    """One test per service; each operation is a subtest, reported with its method and path."""
    return schemathesis.pytest.from_fixture(fixture).exclude(path_regex=WEBHOOK_PATHS).parametrize()(exercise)


test_claims_api = _fuzz("claims_openapi")
test_eligibility_api = _fuzz("eligibility_openapi")
test_remittance_api = _fuzz("remittance_openapi")
test_denials_api = _fuzz("denials_openapi")
test_collections_api = _fuzz("collections_openapi")
