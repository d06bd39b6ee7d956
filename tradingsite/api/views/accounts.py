"""Accounts: list, detail, create, update; a Kite account in one step; positions; halt, resume, flatten."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts import services as account_services
from accounts.models import Account
from accounts.serializers import (
    AccountHaltSerializer,
    AccountResumeSerializer,
    AccountSerializer,
    ZerodhaAccountCreatedSerializer,
    ZerodhaAccountCreateSerializer,
)
from execution import selectors as execution_selectors
from execution.operations.runs import account_flatten_start
from execution.serializers import FlattenRequestSerializer, PositionSerializer
from risk import services as risk_services

from ..filters import AccountFilter
from .system import OperationStarted, operation_started


def _split_secret(validated_data: dict) -> tuple[dict, str | None]:
    fields = dict(validated_data)
    return fields, fields.pop("api_secret", None) or None


@extend_schema_view(
    list=extend_schema(summary="List accounts (secrets never included)"),
    retrieve=extend_schema(summary="One account"),
    create=extend_schema(summary="Create an account (paper or Kite)"),
    update=extend_schema(summary="Replace an account's settings"),
    partial_update=extend_schema(summary="Change some of an account's settings"),
)
@extend_schema(tags=["accounts"])
class AccountViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    queryset = Account.objects.order_by("name")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
    lookup_value_regex = "[0-9]+"

    def perform_create(self, serializer):
        fields, api_secret = _split_secret(serializer.validated_data)
        serializer.instance = account_services.account_create(api_secret=api_secret, **fields)

    def perform_update(self, serializer):
        fields, api_secret = _split_secret(serializer.validated_data)
        serializer.instance = account_services.account_update(
            account=serializer.instance, api_secret=api_secret, **fields
        )

    @extend_schema(
        summary="Create a Zerodha (Kite) account and get its login URL",
        description="The account starts as needing a Kite login; open `login_url` to log it in for today.",
        request=ZerodhaAccountCreateSerializer,
        responses={201: ZerodhaAccountCreatedSerializer},
    )
    @action(detail=False, methods=["post"], url_path="create-zerodha")
    def create_zerodha(self, request):
        params = ZerodhaAccountCreateSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account = account_services.account_create_zerodha(**params.validated_data)
        body = {
            "id": account.id,
            "account": AccountSerializer(account).data,
            "login_url": account_services.kite_login_url(account),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The account's open positions (the system's ledger)",
        description="Closed positions are in `/api/positions?account=<id>&open=false`.",
        filters=False,
        responses=PositionSerializer(many=True),
    )
    @action(detail=True, methods=["get"], pagination_class=None, filterset_class=None)
    def positions(self, request, pk=None):
        account = self.get_object()
        positions = execution_selectors.open_positions(account_id=account.id).order_by("instrument__tradingsymbol")
        return Response(PositionSerializer(positions, many=True).data)

    @extend_schema(
        summary="Halt the account: no new entries (exits stay possible)",
        request=AccountHaltSerializer,
        responses=AccountSerializer,
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def halt(self, request, pk=None):
        account = self.get_object()
        params = AccountHaltSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account = risk_services.account_halt(
            account=account, reason=params.validated_data["reason"], actor=request.user
        )
        return Response(AccountSerializer(account).data)

    @extend_schema(summary="Resume a halted account", request=AccountResumeSerializer, responses=AccountSerializer)
    @action(detail=True, methods=["post"], filterset_class=None)
    def resume(self, request, pk=None):
        account = self.get_object()
        params = AccountResumeSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        account = risk_services.account_resume(
            account=account, reason=params.validated_data["reason"], actor=request.user
        )
        return Response(AccountSerializer(account).data)

    @extend_schema(
        summary="Flatten the account: cancel its open orders and close all its positions",
        description="The account's state is not changed: halt it too, or its strategies may enter again. "
        "Answers 202 at once; the cancels and exits run in a task: poll `status_url` and check its "
        "report's `failed_exits` (those positions are still open).",
        request=FlattenRequestSerializer,
        responses={202: OperationStarted},
    )
    @action(detail=True, methods=["post"], filterset_class=None)
    def flatten(self, request, pk=None):
        account = self.get_object()
        params = FlattenRequestSerializer(data=request.data)
        params.is_valid(raise_exception=True)
        operation = account_flatten_start(account=account, actor=request.user, reason=params.validated_data["reason"])
        return operation_started(request, operation)
