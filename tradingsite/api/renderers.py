"""JSON out of the API: every time in India time (ISO 8601 with its +05:30 offset).

Serializer fields already render in the current time zone (Asia/Kolkata); this catches the
datetimes a view returns directly (``as_of``), which DRF's encoder would write in UTC, so a client
never sees two zones in one answer.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


class IndiaTimeJSONEncoder(JSONEncoder):
    def default(self, obj):
        if isinstance(obj, datetime) and timezone.is_aware(obj):
            obj = timezone.localtime(obj)
        return super().default(obj)


class ApiJSONRenderer(JSONRenderer):
    encoder_class = IndiaTimeJSONEncoder
