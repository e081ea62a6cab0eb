"""What ClaimSubmitted tells a patient statement: the provider's name as the claim carried it and each
line's procedure in words from the HCPCS Level II file loaded here (CPT has no public descriptions).
Synthetic data only."""

from __future__ import annotations

from importlib.resources import files

from openrcm_claims.adapters.x12_claims import build_claim
from openrcm_claims.domain.scrubber.codesets import load_hcpcs_file
from openrcm_claims.service_layer.batches import _billed_facts, line_description, provider_name
from services.claims.tests.unit.claim_rows import NAMES, claim_row
from services.claims.tests.unit.test_claim_x12_mapping import institutional_body
from tests.support import encounter

SYNTHETIC_HCPCS = str(files("openrcm_claims.domain.scrubber").joinpath("data/synthetic/hcpcs_anweb_synthetic.txt"))


def billed(body: dict):
    claim, lines = claim_row(body)
    return build_claim(claim, lines, NAMES)


def test_the_statement_names_the_rendering_provider_else_the_billing_provider():
    assert provider_name(billed(encounter())) == "Rene Renderer"
    without = encounter()
    del without["rendering_provider"]
    assert provider_name(billed(without)) == "Synthetic Family Clinic"
    assert _billed_facts(billed(encounter()), 12, 3)["provider_name"] == "Rene Renderer"


def test_an_institutional_claim_names_its_attending_provider():
    assert provider_name(billed(institutional_body())) == "Rene Renderer"


def test_a_line_is_described_by_its_hcpcs_level_ii_description_and_a_cpt_code_by_nothing():
    hcpcs = load_hcpcs_file(SYNTHETIC_HCPCS)
    assert line_description(hcpcs, "G0439") == "Synthetic test record: annual wellness visit, subsequent"
    assert line_description(hcpcs, "J1100") == "Synthetic test record: injection, dexamethasone, 1 mg"
    assert line_description(hcpcs, "99213") is None  # CPT: the statement words it by its family
    assert line_description(None, "G0439") is None  # no HCPCS file loaded in this process
    assert line_description(hcpcs, None) is None  # an institutional line with a revenue code only
