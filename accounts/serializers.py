"""API shapes for accounts. Secrets go in (write-only) and never come out: only whether they are set."""

from __future__ import annotations

from rest_framework import serializers

from .api_base import StrictModelSerializer, StrictSerializer
from .models import ZERODHA_USER_ID, Account
from .services import ACCOUNT_EDITABLE_FIELDS

# Fields an operator may set through the API: exactly the ones the account services accept.
ACCOUNT_WRITABLE_FIELDS = ACCOUNT_EDITABLE_FIELDS


class AccountSerializer(StrictModelSerializer):
    api_secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        max_length=200,
        style={"input_type": "password"},
        help_text="Kite Connect api_secret. Stored encrypted and never returned; omit or leave blank to keep it.",
    )
    api_secret_set = serializers.BooleanField(source="has_api_secret", read_only=True)
    logged_in = serializers.BooleanField(source="is_logged_in", read_only=True)

    class Meta:
        model = Account
        fields = (
            "id",
            *ACCOUNT_WRITABLE_FIELDS,
            "api_secret",
            "api_secret_set",
            "logged_in",
            "access_token_expires_at",
            "status",
            "status_reason",
            "status_changed_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = (
            "access_token_expires_at",
            "status",
            "status_reason",
            "status_changed_at",
            "created_at",
            "updated_at",
        )
        # Uniqueness of the Kite identity is the model's own check (it names the account holding
        # it); DRF's generated "already exists" validators would answer first and say less.
        extra_kwargs = {"api_key": {"validators": []}, "zerodha_user_id": {"validators": [ZERODHA_USER_ID]}}


class ZerodhaAccountCreateSerializer(StrictSerializer):
    """A Kite account in one step: credentials, capital and limits."""

    name = serializers.CharField(max_length=80)
    zerodha_user_id = serializers.CharField(max_length=10, help_text="The Zerodha client id, e.g. AB1234.")
    api_key = serializers.CharField(max_length=64, help_text="The api_key of the account's Kite Connect app.")
    api_secret = serializers.CharField(
        max_length=200,
        write_only=True,
        style={"input_type": "password"},
        help_text="The app's api_secret. Stored encrypted and never returned.",
    )
    capital = serializers.DecimalField(max_digits=16, decimal_places=2)
    daily_loss_limit = serializers.DecimalField(max_digits=16, decimal_places=2)
    max_order_quantity = serializers.IntegerField(min_value=1)
    max_order_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    max_open_positions = serializers.IntegerField(min_value=1, required=False)
    auto_flatten_on_daily_loss = serializers.BooleanField(required=False)
    is_data_account = serializers.BooleanField(required=False)

    def validate_zerodha_user_id(self, value: str) -> str:
        return value.strip().upper()


class ZerodhaAccountCreatedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    account = AccountSerializer()
    login_url = serializers.URLField(help_text="Open this to log the account in to Kite for today.")


class AccountHaltSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, help_text="Why, for the audit log and the dashboard.")


class AccountResumeSerializer(StrictSerializer):
    reason = serializers.CharField(max_length=200, required=False, default="Resumed by operator")
