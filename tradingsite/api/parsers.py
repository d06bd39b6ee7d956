"""The API's JSON parser: DRF's, with the limits of ``execution.strict_json`` (depth, finite numbers)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from execution import strict_json


class StrictJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return strict_json.loads(stream.read().decode(encoding) if stream else "")
        except (strict_json.JSONRefused, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
