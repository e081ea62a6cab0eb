"""What every X12 endpoint of the simulator checks of a request: the media type and the size."""

from __future__ import annotations

from fastapi import Request

from openrcm_shared.http.problems import Problem, unsupported_media_type

X12_MEDIA_TYPE = "application/edi-x12"


def require_x12(request: Request) -> None:
    """415 unless the body is declared `application/edi-x12`."""
    content_type = request.headers.get("content-type")
    if (content_type or "").split(";")[0].strip().lower() != X12_MEDIA_TYPE:
        raise unsupported_media_type(content_type, X12_MEDIA_TYPE)


async def bounded_body(request: Request, limit: int) -> bytes:
    """The body, 413 when it is larger than `limit` bytes."""
    body = await request.body()
    if len(body) > limit:
        raise Problem(413, "File too large", f"At most {limit} bytes.", type_="file-too-large")
    return body
