"""Request parsers for the API: JSON and forms that refuse what Python or a database cannot hold.

Checked here, once, for every endpoint: JSON nested deeper than `MAX_DEPTH` (Python's parser
would otherwise recurse until RecursionError), NUL characters (PostgreSQL refuses them in text
and JSONB) and lone surrogates (not Unicode: they cannot be encoded to UTF-8, neither to store
nor to answer). A refusal is a 400 naming the offending field; a body past Django's size or
field-count limits is a 413 (`refusal_for`), both with the project's error body.
"""

from __future__ import annotations

import codecs
import math
from collections.abc import Mapping

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.utils import json

from crm.values import printable, text_problem

# Real bodies here are a few levels deep (a batch of records is four); 32 leaves ample room
# while every later step (validation, services, rendering) stays far from Python's recursion limit.
MAX_DEPTH = 32
BODY = "body"


class BodyRefused(ParseError):
    """A request body that cannot be accepted; `path` leads to the part at fault."""

    def __init__(self, message: str, *, path: tuple[str, ...] = (BODY,)):
        self.path = path
        # Nested like DRF's own errors for nested fields: {"properties": {"note": [msg]}}.
        errors: dict | list = [message]
        for key in reversed(path):
            errors = {key: errors}
        super().__init__({"detail": f"{'.'.join(path)}: {message}", "errors": errors})


class BodyTooLarge(APIException):
    """A request body past the configured size or field-count limit (413)."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, message: str):
        super().__init__({"detail": message, "errors": {BODY: [message]}})


def check_parsed(data: object) -> None:
    """Refuse parsed JSON that is nested too deeply or holds text that cannot be stored."""
    # Iterative on purpose: a recursive walk would itself be bounded by the recursion limit.
    stack: list[tuple[object, tuple[str, ...], int]] = [(data, (), 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise BodyRefused(f"is nested deeper than {MAX_DEPTH} levels")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and (problem := text_problem(key)):
                    raise BodyRefused(f"a key {problem}", path=(*path, printable(key)))
                stack.append((item, (*path, str(key)), depth + 1))
        elif isinstance(value, str) and (problem := text_problem(value)):
            raise BodyRefused(problem, path=path or (BODY,))


def check_form(data: Mapping) -> None:
    """Refuse form fields whose names or values hold text that cannot be stored."""
    for key in data:
        if problem := text_problem(key):
            raise BodyRefused(f"a field name {problem}", path=(printable(key),))
        values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
        for value in values:
            if isinstance(value, str) and (problem := text_problem(value)):
                raise BodyRefused(problem, path=(key,))


def refusal_for(exc: Exception, request=None) -> Exception:
    """Django's refusals of an oversized request as an API error: a 413 with a JSON body, or a
    400 naming the query string when that is what holds too many parameters."""
    if isinstance(exc, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return BodyTooLarge(
            f"The request body is larger than {limit} bytes; send less per request."
        )
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        query = request.META.get("QUERY_STRING", "") if request is not None else ""
        if query.count("&") >= limit:  # more than `limit` pairs in the query string itself
            message = f"has more than {limit} parameters"
            return BodyRefused(message, path=("query",))
        return BodyTooLarge(f"The request has more than {limit} fields.")
    if isinstance(exc, TooManyFilesSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
        return BodyTooLarge(f"The request has more than {limit} files.")
    return exc


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded in depth, refusing NULs, lone surrogates and numbers past a
    double's range (Python reads 1e400 as infinity, which no database stores as JSON)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = codecs.getreader(encoding)(stream).read()
            data = json.loads(
                text,
                parse_constant=json.strict_constant if self.strict else None,
                parse_float=_finite_float,
            )
        except RecursionError:
            raise BodyRefused(f"is nested deeper than {MAX_DEPTH} levels") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        check_parsed(data)
        return data


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        shown = text if len(text) <= 40 else f"{text[:37]}…"
        raise BodyRefused(f"holds a number ({shown}) out of range; the limit is about ±1.8e308")
    return value


class FormParser(parsers.FormParser):
    """DRF's form parser, refusing NULs and lone surrogates (a charset can produce them)."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        check_form(data)
        return data


class MultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser, refusing NULs and lone surrogates in its fields."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        check_form(result.data)
        return result
