"""API tokens: issued for a username and password (and a staff user's second factor), listed
without their values, revoked one by one or all of a user's at once.

``POST /api/auth/token`` is the one endpoint open without a login. Wrong passwords count towards
the login lockout (django-axes, by username and client address, shared with the dashboard and the
admin), and the anonymous rate in ``API_THROTTLE_RATES`` limits how fast one address may try.
"""

from __future__ import annotations

from axes.exceptions import AxesBackendPermissionDenied
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_login_failed
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_base import StrictSerializer
from tradingsite import lockout, two_factor

from ..throttling import AnonThrottle, UserThrottle
from ..tokens import api_token_issue, api_token_revoke, api_tokens_of, api_tokens_revoke_all, token_id


class TokenRequestSerializer(StrictSerializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})
    otp_token = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        help_text="A staff user's second factor: the authenticator's 6-digit code or a recovery code.",
    )


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Shown this once; only its digest is stored.")
    id = serializers.CharField(help_text="Names the token in the list and to revoke it.")
    expiry = serializers.DateTimeField(allow_null=True)


class TokenSerializer(serializers.Serializer):
    id = serializers.SerializerMethodField()
    user = serializers.CharField(source="user.get_username")
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)

    def get_id(self, token) -> str:
        return token_id(token)


class TokenView(APIView):
    authentication_classes = ()  # credentials in the body only: no session, so no CSRF to satisfy
    permission_classes = ()
    throttle_classes = (AnonThrottle, UserThrottle)

    @extend_schema(
        tags=["auth"],
        summary="Get a new API token",
        description="Send it on every request as `Authorization: Token <key>`. It is shown once and "
        "expires after `API_TOKEN_DAYS`. Wrong credentials: 400; too many wrong tries for a username "
        "from one address: 429 until the cool-off ends. Staff users send `otp_token` where a second "
        "factor is required.",
        request=TokenRequestSerializer,
        responses={200: IssuedTokenSerializer},
        auth=[],
    )
    def post(self, request):
        params = TokenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        username, password = params.validated_data["username"], params.validated_data["password"]
        django_request = request._request
        try:
            user = authenticate(request=django_request, username=username, password=password)
        except AxesBackendPermissionDenied:
            return lockout.lockout_response(django_request, credentials={"username": username})
        if getattr(django_request, "axes_locked_out", False):
            return lockout.lockout_response(django_request, credentials={"username": username})
        if user is None:
            raise serializers.ValidationError(
                {"non_field_errors": ["Unable to log in with the provided credentials."]}, code="authorization"
            )
        if two_factor.required_for(user):
            device = two_factor.verify_code(user, params.validated_data.get("otp_token", ""))
            if device is None:
                # A wrong second factor is a failed login: it counts towards the lockout.
                user_login_failed.send(sender=__name__, credentials={"username": username}, request=django_request)
                raise serializers.ValidationError(
                    {"otp_token": ["A staff token needs the second factor: a valid authenticator or recovery code."]}
                )
        issued = api_token_issue(user=user)
        body = {"token": issued.token, "id": issued.id, "expiry": issued.expiry}
        return Response(IssuedTokenSerializer(body).data, status=status.HTTP_200_OK)


class TokenListView(APIView):
    permission_classes = [IsAuthenticated]  # a viewer lists and revokes their own tokens

    @extend_schema(
        tags=["auth"],
        summary="API tokens, without their values",
        description="Your own tokens; staff see every user's.",
        responses=TokenSerializer(many=True),
    )
    def get(self, request):
        return Response(TokenSerializer(api_tokens_of(user=request.user), many=True).data)


class TokenDetailView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=["auth"], summary="Revoke one API token", responses={204: None})
    def delete(self, request, token_id: str):
        if not api_token_revoke(tokens=api_tokens_of(user=request.user), id=token_id):
            raise NotFound("No such token.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class RevokeAllRequestSerializer(StrictSerializer):
    user = serializers.PrimaryKeyRelatedField(
        queryset=get_user_model().objects.all(),
        required=False,
        help_text="Whose tokens (staff only); omitted, your own.",
    )


class TokenRevokeAllView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["auth"],
        summary="Revoke every API token of a user",
        request=RevokeAllRequestSerializer,
        responses={200: inline_serializer("TokensRevoked", fields={"revoked": serializers.IntegerField()})},
    )
    def post(self, request):
        params = RevokeAllRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        user = params.validated_data.get("user", request.user)
        if user != request.user and not request.user.is_staff:
            raise PermissionDenied("Revoking another user's tokens needs a staff user.")
        return Response({"revoked": api_tokens_revoke_all(user=user)})
