"""JSON bodies: which media types are read as JSON, and 415 for the others."""

from __future__ import annotations

import pytest

from openrcm_shared.http.bodies import is_json_media_type
from openrcm_shared.http.problems import unsupported_media_type


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8",
                                          "application/fhir+json", "application/merge-patch+json"])
def test_json_and_plus_json_types_are_read_as_json(content_type):
    assert is_json_media_type(content_type)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                          "application/edi-x12", "text/json+plain", "application/jsonx"])
def test_other_types_and_no_type_at_all_are_not(content_type):
    assert not is_json_media_type(content_type)


def test_the_415_names_the_header_and_the_type_sent():
    problem = unsupported_media_type("text/plain; charset=utf-8")
    assert (problem.status, problem.type) == (415, "https://openrcm.org/problems/unsupported-media-type")
    assert problem.errors == [{"pointer": "/header/Content-Type", "detail": "text/plain is not accepted"}]
