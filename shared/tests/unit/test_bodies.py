"""JSON bodies: which media types are read as JSON, and 415 for the others."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel

from openrcm_shared.http.bodies import json_body
from openrcm_shared.http.media_types import is_json_media_type
from openrcm_shared.http.problems import install_problem_handlers, unsupported_media_type


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8",
                                          "application/fhir+json", "application/merge-patch+json"])
def test_json_and_plus_json_types_are_read_as_json(content_type):
    assert is_json_media_type(content_type)


@pytest.mark.parametrize("content_type", [None, "", "text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data", "application/edi-x12", "text/json+plain",
                                          "application/jsonx"])
def test_other_types_and_no_type_at_all_are_not(content_type):
    assert not is_json_media_type(content_type)


def test_the_415_names_the_header_and_the_type_sent():
    problem = unsupported_media_type("text/plain; charset=utf-8")
    assert (problem.status, problem.type) == (415, "https://openrcm.org/problems/unsupported-media-type")
    assert problem.errors == [{"pointer": "/header/Content-Type", "detail": "text/plain is not accepted"}]


class _Payer(BaseModel):
    name: str


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.put("/declared")
    async def declared(payer: _Payer) -> _Payer:  # FastAPI reads the body
        return payer

    @app.put("/read-here")
    async def read_here(request: Request) -> _Payer:  # the hot paths' way
        return await json_body(request, _Payer)

    return app


@pytest.mark.parametrize("path", ["/declared", "/read-here"])
@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/json", b'{"name": "Synthetic Health Plan"}', 200),
    ("application/json", b'{"name": ', 400),  # not JSON at all: still 400, not 415
    ("application/json", b'{"name": 7}', 422),
    ("text/plain", b'{"name": "Synthetic Health Plan"}', 415),
    (None, b'{"name": "Synthetic Health Plan"}', 415),
])
async def test_each_way_of_reading_a_body_answers_alike(path, content_type, body, status):
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()), base_url="http://app") as client:
        request = client.build_request("PUT", path, content=body,
                                       headers={"content-type": content_type} if content_type else {})
        if content_type is None:
            request.headers.pop("content-type", None)
        response = await client.send(request)
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.headers["content-type"] == "application/problem+json"
