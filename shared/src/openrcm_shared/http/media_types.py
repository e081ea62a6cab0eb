"""Media types of request bodies."""

from __future__ import annotations


def is_json_media_type(content_type: str | None) -> bool:
    """`application/json` or a `+json` type (RFC 6839), parameters aside. A body without a
    Content-Type is not taken as JSON, as FastAPI does not for the bodies it reads (its strict
    content type)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (media_type.startswith("application/") and media_type.endswith("+json"))
