"""Broker accounts: one row per Zerodha (or paper) account the system trades."""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from . import crypto

ZERODHA_USER_ID = RegexValidator(
    r"^[A-Z]{2,3}[0-9]{3,5}$",
    "A Zerodha user id looks like AB1234: two or three capital letters, then digits.",
)


class Broker(models.TextChoices):
    PAPER = "paper", "Paper (simulated fills)"
    KITE = "kite", "Zerodha Kite"


class AccountStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    HALTED = "halted", "Halted"
    NEEDS_LOGIN = "needs_login", "Needs Kite login"


class Account(models.Model):
    name = models.CharField(max_length=80, unique=True)
    broker = models.CharField(max_length=10, choices=Broker.choices, default=Broker.PAPER)
    zerodha_user_id = models.CharField("Zerodha user id", max_length=10, blank=True, validators=[ZERODHA_USER_ID])
    capital = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Trading capital in rupees that sizing and allocation percentages are based on.",
    )
    daily_loss_limit = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Rupees. When realised plus unrealised P&L today falls to minus this, the account halts.",
    )
    max_order_quantity = models.PositiveIntegerField(
        validators=[MinValueValidator(1)], help_text="Largest quantity allowed in a single order."
    )
    max_order_value = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("1"))],
        help_text="Largest value (quantity × price) allowed in a single order, in rupees.",
    )
    max_open_positions = models.PositiveIntegerField(
        default=10,
        validators=[MinValueValidator(1)],
        help_text="Most instruments this account may hold open positions in at once.",
    )
    trading_enabled = models.BooleanField(
        default=True, help_text="Kill switch for this account: when off, no new orders are sent."
    )
    auto_flatten_on_daily_loss = models.BooleanField(
        default=False, help_text="When the daily loss limit is breached, also square off every position."
    )
    status = models.CharField(max_length=12, choices=AccountStatus.choices, default=AccountStatus.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    status_changed_at = models.DateTimeField(null=True, blank=True)

    # Kite Connect credentials. Secrets are stored encrypted and never shown back.
    api_key = models.CharField(max_length=64, blank=True)
    api_secret_encrypted = models.TextField(blank=True, editable=False)
    access_token_encrypted = models.TextField(blank=True, editable=False)
    access_token_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    is_data_account = models.BooleanField(
        default=False, help_text="The one Kite account whose session fetches market data."
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_data_account"],
                condition=models.Q(is_data_account=True),
                name="one_data_account",
            ),
            models.UniqueConstraint(
                fields=["api_key"],
                condition=~models.Q(api_key=""),
                name="one_account_per_api_key",
                violation_error_message="This api_key already belongs to another account.",
            ),
            models.UniqueConstraint(
                fields=["zerodha_user_id"],
                condition=~models.Q(zerodha_user_id=""),
                name="one_account_per_zerodha_user_id",
                violation_error_message="This Zerodha user id already belongs to another account.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors = {}
        if self.capital is not None and self.daily_loss_limit is not None and self.daily_loss_limit > self.capital:
            errors["daily_loss_limit"] = "The daily loss limit cannot be larger than the account's capital."
        errors.update(self._identity_taken())
        if self.broker == Broker.KITE:
            if not self.zerodha_user_id:
                errors["zerodha_user_id"] = "A Kite account needs its Zerodha user id (e.g. AB1234)."
            if not self.api_key:
                errors["api_key"] = "A Kite account needs the api_key of its Kite Connect app."
        if errors:
            raise ValidationError(errors)

    # One account per Kite identity: two rows on one api_key or Zerodha user id would trade one
    # broker account twice and make postbacks ambiguous. The constraints back this up under races.
    IDENTITY_FIELDS = (("api_key", "api_key"), ("zerodha_user_id", "Zerodha user id"))

    def _identity_taken(self) -> dict[str, str]:
        errors = {}
        for field, label in self.IDENTITY_FIELDS:
            value = getattr(self, field)
            if not value:
                continue
            holder = Account.objects.filter(**{field: value}).exclude(pk=self.pk).only("name").first()
            if holder is not None:
                errors[field] = f"This {label} already belongs to the account “{holder.name}”."
        return errors

    # --- secrets: write-only from the outside ---------------------------------------------
    @property
    def has_api_secret(self) -> bool:
        return bool(self.api_secret_encrypted)

    @property
    def has_access_token(self) -> bool:
        return bool(self.access_token_encrypted)

    def set_api_secret(self, value: str) -> None:
        self.api_secret_encrypted = crypto.encrypt(value) if value else ""

    def get_api_secret(self) -> str:
        return crypto.decrypt(self.api_secret_encrypted) if self.api_secret_encrypted else ""

    def set_access_token(self, value: str, *, expires_at) -> None:
        self.access_token_encrypted = crypto.encrypt(value) if value else ""
        self.access_token_expires_at = expires_at if value else None

    def get_access_token(self) -> str:
        return crypto.decrypt(self.access_token_encrypted) if self.access_token_encrypted else ""

    @property
    def is_paper(self) -> bool:
        return self.broker == Broker.PAPER

    @property
    def is_logged_in(self) -> bool:
        """Paper accounts are always ready; a Kite account needs today's unexpired token."""
        if self.is_paper:
            return True
        return bool(
            self.access_token_encrypted
            and self.access_token_expires_at
            and self.access_token_expires_at > timezone.now()
        )
