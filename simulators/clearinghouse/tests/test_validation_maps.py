"""pyx12's maps are loaded once per process (validation._load_map_once): the findings must be the
same as with maps freshly loaded for every document, whatever ran before."""

from __future__ import annotations

import pyx12.map_if

from openrcm_clearinghouse_sim import validation
from simulators.clearinghouse.tests.synthetic_parties import BLUE
from simulators.clearinghouse.tests.test_clearinghouse import SAMPLES, file_837, institutional, professional


def documents() -> dict[str, str]:
    clean = file_837(professional("PCN0901"), professional("PCN0902", payer=BLUE), claims_per_transaction=1)
    broken = file_837(professional("PCN0903")).replace("NM1*PR*2*ACME HEALTH PLAN*****PI*60054~",
                                                      "NM1*PR*2*ACME HEALTH PLAN*****ZZ*60054~")
    return {
        "professional": clean,
        "institutional": file_837(institutional("PCN0904")),
        "code value error": broken,
        "segment errors sample": (SAMPLES / "837_5010" / "x12_segment_errors.txt").read_text(encoding="ascii"),
    }


def fresh_findings(text: str) -> validation.InterchangeFindings:
    validation._loaded_maps.clear()  # every map parsed again for this document, as pyx12 does by itself
    return validation.validate_interchange(text)


def test_findings_with_maps_loaded_once_equal_findings_with_fresh_maps_in_any_order():
    docs = documents()
    expected = {name: fresh_findings(text) for name, text in docs.items()}
    assert not all(f.groups[0].transaction_sets[0].accepted for f in expected.values())  # errors are compared too
    assert expected["professional"].groups[0].transaction_sets[0].accepted

    validation._loaded_maps.clear()
    order = list(docs) + list(reversed(docs)) + list(docs)  # each map reused after every other document
    for name in order:
        assert validation.validate_interchange(docs[name]) == expected[name], name


def test_each_map_is_parsed_once_and_pyx12_is_left_unchanged_outside_validation(monkeypatch):
    pyx12_loader = pyx12.map_if.load_map_file
    parsed: list[str] = []
    original = validation._pyx12_load_map_file

    def counting_loader(map_file, param, map_path=None):  # noqa: ANN001 - pyx12's signature
        parsed.append(map_file)
        return original(map_file, param, map_path)

    monkeypatch.setattr(validation, "_pyx12_load_map_file", counting_loader)
    validation._loaded_maps.clear()
    docs = documents()
    for _ in range(3):
        validation.validate_interchange(docs["professional"])
        validation.validate_interchange(docs["institutional"])

    assert sorted(parsed) == sorted(set(parsed)) and len(parsed) == 3  # control map, 837P map, 837I map
    assert pyx12.map_if.load_map_file is pyx12_loader
