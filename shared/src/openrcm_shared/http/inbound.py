"""What comes in is checked before the application sees it (every service, through
`openrcm_shared.service.create_service_app`).

`InboundGuardMiddleware`, per request:

1. per-client rate limit (`openrcm_shared.http.rate_limits`): 429 before anything else is done;
2. NUL characters in the path, the query or a header: 422 (400 for a header) naming the field.
   PostgreSQL text cannot hold NUL, so a NUL that reached a query would be a 500;
3. the body's size, by route class: JSON API requests (`OPENRCM_MAX_BODY_BYTES_JSON`), files
   (X12, CSV, multipart) sent to a route marked with `takes_files` (`OPENRCM_MAX_BODY_BYTES_X12`,
   or the route's own bound), and webhooks under `/v1/webhooks/` (`OPENRCM_MAX_BODY_BYTES_WEBHOOK`).
   A `Content-Length` above the bound is answered 413 at once, before the application runs; a
   body sent without one (chunked) is counted as it is read and refused as soon as the count passes
   the bound, so no more than the bound is ever read. A webhook is refused for size before its
   signature is checked (the signature covers the whole body, which is never read past the bound);
4. a JSON body (anything that is not a file or a webhook) is read whole, bounded as above, and
   refused when it nests deeper than `OPENRCM_MAX_JSON_DEPTH` (400) or holds a string PostgreSQL
   cannot store, `\\u0000` or an unpaired surrogate (422 naming each field). The application then
   gets the body in one piece, as it would read it anyway.

The route class is known only once the router has matched the request, which it has by the time
the application first reads the body: the bound checked at once, before that, is the largest the
request could be given (the webhook bound for a webhook path, the file bound for a file media
type, else the JSON bound), and the route's own is checked at its first read, before a byte of the
body is taken. Refusals from inside the body's reading are `RefusedRequest`s, which FastAPI lets
through and `install_problem_handlers` answers with their problem.

The cost is a scan of the header list per request and, for a JSON body, a few C-speed passes over
it (bench/inbound.py measures it).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl

from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.requests import Request
from starlette.routing import compile_path

from openrcm_shared.http.admission import NEVER_SHED, WEBHOOK_PREFIX
from openrcm_shared.http.json_checks import nesting_exceeds, unstorable_string_pointers
from openrcm_shared.http.problems import Problem, RefusedRequest, field_error, problem_response
from openrcm_shared.http.rate_limits import TokenBucketLimiter

MiB = 1024 * 1024
X12_MEDIA_TYPES = ("application/edi-x12", "application/edi", "text/x12")
# Documents sent as they are (appeal attachments): PDF and scanned images.
DOCUMENT_MEDIA_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/tiff", "application/octet-stream")
# Bodies that are files, not JSON: a route marked `takes_files` may receive these up to its file bound.
FILE_MEDIA_TYPES = frozenset({*X12_MEDIA_TYPES, *DOCUMENT_MEDIA_TYPES, "multipart/form-data", "text/csv"})
_FILE_BOUND_ATTRIBUTE = "openrcm_file_body_bytes"
_NUL_DETAIL = "contains a NUL character, which cannot be stored"
_UNSTORABLE_DETAIL = ("contains a NUL character or an unpaired surrogate (\\u0000, \\ud800-\\udfff), "
                      "which cannot be stored")


class InboundSettings(BaseSettings):
    """Body-size bounds per route class and the JSON nesting bound (`OPENRCM_` + the field name)."""

    model_config = SettingsConfigDict(env_prefix="OPENRCM_", extra="ignore")

    # The biggest JSON bodies are encounter batches: 500 encounters (the batch's limit) of ~2 KB
    # each is 1 MB; of 50 lines each, ~8 MB.
    max_body_bytes_json: int = 8 * MiB
    # 835 ERAs: 200,000 claims is ~70 MB (docs/benchmarks.md, posting); a large payer's file for a
    # large group is well under twice that.
    max_body_bytes_x12: int = 128 * MiB
    # The clearinghouse's 999s and 277CAs (one per 837 batch) and 835s (one per payer and billing
    # provider), sent whole: smaller than a month's ERA upload.
    max_body_bytes_webhook: int = 64 * MiB
    # Encounters nest 5 levels deep, FHIR Claims about 8; Python's json recurses per level.
    max_json_depth: int = 64


def takes_files(max_bytes: int | None = None) -> Callable:
    """Mark a route that takes files (X12, CSV, multipart) as its body: a request to it with a file
    media type may be as large as `OPENRCM_MAX_BODY_BYTES_X12` (or `max_bytes`, the route's own
    bound). Other requests to it (JSON) keep the JSON bound and checks."""
    def mark(endpoint: Callable) -> Callable:
        setattr(endpoint, _FILE_BOUND_ATTRIBUTE, max_bytes or 0)  # 0: the configured file bound
        return endpoint
    return mark


def _media_type(content_type: bytes | None) -> str:
    if not content_type:
        return ""
    return content_type.split(b";", 1)[0].strip().lower().decode("latin-1")


def _declared_length(value: bytes | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _too_large(limit: int) -> RefusedRequest:
    return RefusedRequest(Problem(413, "Content too large", f"The body may hold at most {limit} bytes here.",
                                  type_="payload-too-large", max_bytes=limit))


class _Body:
    """The application's `receive` for one request: counts the body against the route's bound
    and, for JSON, hands it over whole once it has passed the JSON checks."""

    __slots__ = ("receive", "scope", "guard", "media_type", "declared", "limit", "json", "received")

    def __init__(self, receive, scope, guard: "InboundGuardMiddleware", media_type: str,
                 declared: int | None) -> None:
        self.receive, self.scope, self.guard = receive, scope, guard
        self.media_type, self.declared = media_type, declared
        self.limit: int | None = None  # decided at the first read, when the route is known
        self.json = False
        self.received = 0

    async def __call__(self):
        if self.limit is None:
            self._decide()
        message = await self.receive()
        if message["type"] != "http.request":
            return message
        self._count(message)
        if not self.json:
            return message
        self.json = False  # checked once; later reads (a disconnect watch) pass through
        return await self._whole_json(message)

    def _decide(self) -> None:
        settings = self.guard.settings
        if self.scope["path"].startswith(WEBHOOK_PREFIX):
            self.limit = settings.max_body_bytes_webhook
        else:
            endpoint = getattr(self.scope.get("route"), "endpoint", None)
            file_bound = getattr(endpoint, _FILE_BOUND_ATTRIBUTE, None)
            if file_bound is not None and self.media_type in FILE_MEDIA_TYPES:
                self.limit = file_bound or settings.max_body_bytes_x12
            else:
                self.limit, self.json = settings.max_body_bytes_json, True
        if self.declared is not None and self.declared > self.limit:
            raise _too_large(self.limit)

    def _count(self, message) -> None:
        self.received += len(message.get("body", b""))
        if self.received > self.limit:
            raise _too_large(self.limit)

    async def _whole_json(self, message):
        pieces = [message.get("body", b"")]
        while message.get("more_body", False):
            message = await self.receive()
            if message["type"] != "http.request":
                return message  # the client went away: the application sees it as it would
            self._count(message)
            pieces.append(message.get("body", b""))
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        self.guard.check_json(body)
        return {"type": "http.request", "body": body, "more_body": False}


class InboundGuardMiddleware:
    """ASGI middleware: rate limit, NUL characters, body-size bounds and JSON checks (see the module)."""

    def __init__(self, app, settings: InboundSettings | None = None, *, api=None,
                 limiter: TokenBucketLimiter | None = None, limit_unauthenticated: bool = True) -> None:
        self.app = app
        self.settings = settings or InboundSettings()
        self.api = api  # the FastAPI app: its OpenAPI paths name the path parameter holding a NUL
        # Counted here by practice or address; None when limiting is off, or when the
        # authorization dependency counts each client instead (`check_rate_limit`).
        self.limiter = limiter if limit_unauthenticated else None
        self.largest_body = max(self.settings.max_body_bytes_json, self.settings.max_body_bytes_x12)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] in NEVER_SHED:
            return await self.app(scope, receive, send)
        tenant = content_length = content_type = None
        for name, value in scope["headers"]:
            if b"\x00" in value:
                return await self._refuse(self._nul_in_header(name), scope, receive, send)
            if name == b"x-tenant-id":
                tenant = value
            elif name == b"content-length":
                content_length = value
            elif name == b"content-type":
                content_type = value
        webhook = scope["path"].startswith(WEBHOOK_PREFIX)
        if self.limiter is not None and not webhook:
            refused = self.limiter.take(self._client_key(scope, tenant))
            if refused is not None:
                return await self._refuse(refused.problem(), scope, receive, send)
        if "\x00" in scope["path"] or b"%00" in scope["query_string"] or b"\x00" in scope["query_string"]:
            return await self._refuse(self._nul_in_url(scope), scope, receive, send)
        media_type = _media_type(content_type)
        declared = _declared_length(content_length)
        if declared is not None and declared > self._bound_before_routing(webhook, media_type):
            return await self._refuse(_too_large(self._bound_before_routing(webhook, media_type)).problem,
                                      scope, receive, send)
        if scope["method"] in ("GET", "HEAD"):  # no route reads a body from these
            return await self.app(scope, receive, send)
        try:
            await self.app(scope, _Body(receive, scope, self, media_type, declared), send)
        except RefusedRequest as refused:  # only when nothing inside answered it (a bare ASGI app)
            await self._refuse(refused.problem, scope, receive, send)

    # -- checks ---------------------------------------------------------------------------------------

    def check_json(self, body: bytes) -> None:
        """Raise a `RefusedRequest` for a JSON body nested too deep or holding unstorable strings."""
        depth = self.settings.max_json_depth
        if nesting_exceeds(body, depth):
            raise RefusedRequest(Problem(400, "JSON body nested too deeply", type_="validation-error",
                                         errors=[field_error("", f"nested deeper than {depth} levels")]))
        pointers = unstorable_string_pointers(body)
        if pointers:
            raise RefusedRequest(Problem(422, "The request has invalid fields", type_="validation-error",
                                         errors=[field_error(pointer, _UNSTORABLE_DETAIL) for pointer in pointers]))

    def _bound_before_routing(self, webhook: bool, media_type: str) -> int:
        """The largest body the request could be allowed before its route is known."""
        if webhook:
            return self.settings.max_body_bytes_webhook
        return self.largest_body if media_type in FILE_MEDIA_TYPES else self.settings.max_body_bytes_json

    @staticmethod
    def _client_key(scope, tenant: bytes | None) -> str:
        if tenant:
            return "tenant:" + tenant.decode("latin-1")
        client = scope.get("client")
        return "address:" + (client[0] if client else "unknown")

    @staticmethod
    def _nul_in_header(name: bytes) -> Problem:
        header = name.decode("latin-1").title()
        return Problem(400, "Invalid header", f"The {header} header {_NUL_DETAIL}.", type_="invalid-header",
                       errors=[field_error(f"/header/{header}", _NUL_DETAIL)])

    def _nul_in_url(self, scope) -> Problem:
        pointers = [f"/query/{name}" for name, value in
                    parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
                    if "\x00" in name or "\x00" in value]
        if "\x00" in scope["path"]:
            pointers += self._path_parameters_with_nul(scope) or ["/path"]
        return Problem(422, "The request has invalid fields", type_="validation-error",
                       errors=[field_error(pointer.replace("\x00", "\\u0000"), _NUL_DETAIL) for pointer in pointers])

    def _path_parameters_with_nul(self, scope) -> list[str]:
        """Only for a refused request: the route templates of the API's OpenAPI document, matched
        against the path (the router has not run yet)."""
        if self.api is None:
            return []
        for template in self.api.openapi().get("paths", {}):
            matched = compile_path(template)[0].match(scope["path"])
            if matched:
                return [f"/path/{name}" for name, value in matched.groupdict().items() if "\x00" in value]
        return []

    @staticmethod
    async def _refuse(problem: Problem, scope, receive, send) -> None:
        await problem_response(problem, Request(scope))(scope, receive, send)
