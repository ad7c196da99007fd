"""Reading Docker's requests: query parameters, filters and JSON bodies, with Docker's 400s.

Every check raises ``InvalidParameterError`` (400) naming the offending value; nothing is
created before the request has been read and validated in full.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from orlop.errors import InvalidParameterError
from orlop.goparse import parse_bool
from orlop.server.errors import PayloadTooLargeError
from orlop.wire import gojson


def archive_path(request: web.Request) -> str:
    """The ``path`` query parameter of the archive routes (containers' and volumes'):
    required, and never with a NUL byte (it is handed to the kernel as a C string)."""
    path = request.query.get("path", "")
    if not path:
        raise InvalidParameterError("path is required")
    if "\x00" in path:
        raise InvalidParameterError(f"invalid path {path!r}")
    return path


def query_bool(request: web.Request, name: str, default: bool = False) -> bool:
    """Go's ``strconv.ParseBool`` as moby's ``httputils.BoolValue`` uses it."""
    value = request.query.get(name)
    if value is None:
        return default
    parsed = parse_bool(value) if value else False  # moby: an empty value is false
    if parsed is not None:
        return parsed
    raise InvalidParameterError(f"invalid value for {name}: {value!r}: must be a boolean")


def query_int(request: web.Request, name: str, default: int | None = None) -> int | None:
    value = request.query.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise InvalidParameterError(f"invalid value for {name}: {value!r}: must be an integer"
                                    ) from None


def query_filters(request: web.Request) -> dict[str, list[str]]:
    """Docker's ``filters`` query: ``{"key": ["v1", "v2"]}`` or the old
    ``{"key": {"v1": true}}`` form; malformed JSON is a 400."""
    raw = request.query.get("filters", "")
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise InvalidParameterError(f"invalid filter: {raw!r} is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidParameterError("invalid filter: expected a JSON object")
    out: dict[str, list[str]] = {}
    for key, value in data.items():
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            out[key] = list(value)
        elif isinstance(value, dict) and all(isinstance(v, bool) for v in value.values()):
            out[key] = [k for k, on in value.items() if on]
        else:
            raise InvalidParameterError(f"invalid filter {key!r}: expected a list of strings")
    return out


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refused with 413 past ``limit`` (chunked bodies counted too)."""
    declared = request.content_length
    if declared is not None and declared > limit:
        raise PayloadTooLargeError(f"request body too large: {declared} bytes, "
                                   f"the limit is {limit}")
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(65536):
        total += len(chunk)
        if total > limit:
            raise PayloadTooLargeError(f"request body too large: the limit is {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def check_json_content_type(request: web.Request) -> None:
    """moby's ``httputils.CheckForJSON``: a request that carries a body must say
    ``Content-Type: application/json`` (parameters such as ``charset`` allowed); no
    Content-Type is fine only without a body.

    The CSRF defence of a JSON API, beside the ``Origin`` check in app.py: a web page
    can have a browser POST cross-site without a CORS preflight only with
    ``text/plain``, form or multipart bodies, so a JSON endpoint that took those would
    run a page's request whenever an ``Origin`` is not sent (older browsers, plugins,
    a proxy that strips it).
    """
    ctype = request.headers.get("Content-Type", "")
    if not ctype and not request.body_exists:
        return
    mimetype, why = media_type(ctype)
    if why:
        raise InvalidParameterError(f"malformed Content-Type header ({ctype}): mime: {why}")
    if mimetype != "application/json":
        raise InvalidParameterError(f"unsupported Content-Type header ({ctype}): must be "
                                    "'application/json'")


_TSPECIALS = set('()<>@,;:\\"/[]?=')


def _token(text: str) -> tuple[str, str]:
    """Go's ``consumeToken``: the leading RFC 2045 token of ``text`` and the rest."""
    n = 0
    while n < len(text) and 33 <= ord(text[n]) < 127 and text[n] not in _TSPECIALS:
        n += 1
    return text[:n], text[n:]


def media_type(value: str) -> tuple[str, str]:
    """The lower-cased media type of a Content-Type value and, if it is malformed, why
    (Go's ``mime.ParseMediaType`` checks and wording; parameters checked for shape)."""
    base, _, params = value.partition(";")
    base = base.strip().lower()
    kind, rest = _token(base)
    if not kind:
        return base, "no media type"
    if rest:
        if not rest.startswith("/"):
            return base, "expected slash after first token"
        sub, rest = _token(rest[1:])
        if not sub:
            return base, "expected token after slash"
        if rest:
            return base, "unexpected content after media subtype"
    for param in params.split(";"):
        name, rest = _token(param.strip())
        if param.strip() and (not name or not rest.lstrip().startswith("=")):
            return base, "invalid media parameter"
    return base, ""


async def read_json(request: web.Request, limit: int, *, required: bool = True) -> Any:
    """The one reader of JSON request bodies (moby's ``httputils.ReadJSON``): the
    Content-Type checked first, then exactly one JSON value, with nothing but white
    space after it (``{..} {..}`` is not read as its first half).  ``None`` for an
    empty body unless ``required`` (then Go's "got EOF" 400)."""
    check_json_content_type(request)
    body = await read_body(request, limit) if request.body_exists else b""
    try:
        text = body.decode()
    except UnicodeDecodeError as err:
        raise InvalidParameterError(f"invalid JSON: {err}") from None
    start = len(text) - len(text.lstrip(_JSON_SPACE))
    if start == len(text):
        if required:
            raise InvalidParameterError("invalid JSON: got EOF while reading request body")
        return None
    try:
        data, end = _DECODER.raw_decode(text, start)
    except ValueError as err:
        raise InvalidParameterError(f"invalid JSON: {err}") from None
    if text[end:].strip(_JSON_SPACE):
        raise InvalidParameterError("unexpected content after JSON")
    return data


_DECODER = json.JSONDecoder()
_JSON_SPACE = " \t\n\r"  # JSON's white space (RFC 8259 section 2), not Python's


async def json_body(request: web.Request, limit: int, *, required: bool = True
                    ) -> dict[str, Any]:
    """A JSON object body (:func:`read_json`).  An empty body, or ``null`` (which Go
    decodes into a struct as nothing), is ``{}`` unless ``required``."""
    data = await read_json(request, limit, required=required)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InvalidParameterError(
            f"invalid JSON: expected an object, got {type(data).__name__}")
    return data


def json_bytes(data: Any) -> bytes:
    """A JSON response body as the server sends every one (a trailing newline, as Go's
    json.Encoder writes)."""
    return gojson.encode(data)


def json_response(data: Any, status: int = 200) -> web.Response:
    return json_body_response(json_bytes(data), status)


def json_body_response(body: bytes, status: int = 200) -> web.Response:
    """A response whose body is already JSON (e.g. one kept by a cache)."""
    return web.Response(status=status, body=body, content_type="application/json")
