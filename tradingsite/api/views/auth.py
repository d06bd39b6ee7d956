"""A token for an API client, in exchange for a username and password.

The one endpoint open without a login; the anonymous rate in ``API_THROTTLE_RATES`` limits how
fast passwords can be tried from one address.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken

from accounts.api_base import StrictInputMixin

from ..throttling import AnonThrottle, UserThrottle


class StrictAuthTokenSerializer(StrictInputMixin, AuthTokenSerializer):
    pass


class TokenView(ObtainAuthToken):
    authentication_classes = ()  # credentials in the body only: no session, so no CSRF to satisfy
    throttle_classes = (AnonThrottle, UserThrottle)
    serializer_class = StrictAuthTokenSerializer

    @extend_schema(
        tags=["auth"],
        summary="Get a user's API token",
        description="Send it on every request as `Authorization: Token <key>`. Wrong credentials: 400.",
        request=StrictAuthTokenSerializer,
        responses={200: inline_serializer("AuthToken", fields={"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)
