"""Engine state, kill switches and the risk audit log."""

from django.conf import settings
from django.db import models


class EngineState(models.Model):
    """The one row that says whether the engine trades at all.

    ``running`` is the operator's start/stop. ``kill_switch`` is the global kill switch that
    emergency stop trips: while it is on, no new entry goes out even if someone starts the engine.
    """

    SINGLETON_ID = 1

    running = models.BooleanField(default=False)
    kill_switch = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "engine state"
        verbose_name_plural = "engine state"

    def __str__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"Engine {state}" + (" (kill switch on)" if self.kill_switch else "")


class RiskEventKind(models.TextChoices):
    ENGINE_STARTED = "engine_started", "Engine started"
    ENGINE_STOPPED = "engine_stopped", "Engine stopped"
    EMERGENCY_STOP = "emergency_stop", "Emergency stop"
    KILL_SWITCH_RESET = "kill_switch_reset", "Kill switch reset"
    ACCOUNT_HALTED = "account_halted", "Account halted"
    ACCOUNT_RESUMED = "account_resumed", "Account resumed"
    DAILY_LOSS_BREACH = "daily_loss_breach", "Daily loss limit breached"
    STRATEGY_STOPPED = "strategy_stopped", "Strategy stopped"
    SQUARE_OFF = "square_off", "Square-off"
    NEEDS_LOGIN = "needs_login", "Account needs login"
    ORDER_EXPIRED = "order_expired", "Order expired unsent"


class RiskEvent(models.Model):
    """Who did what to the system's safety state, and when. Append-only."""

    kind = models.CharField(max_length=30, choices=RiskEventKind.choices)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="risk_events"
    )
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="risk_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


class RiskDecisionRecord(models.Model):
    """Every pre-trade decision, approved or not, with the result of each check."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="risk_decisions")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_decisions"
    )
    signal = models.ForeignKey(
        "strategies.Signal", null=True, blank=True, on_delete=models.SET_NULL, related_name="risk_decisions"
    )
    instrument = models.ForeignKey("strategies.Instrument", on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4)
    quantity = models.IntegerField()
    reference_price = models.DecimalField(max_digits=14, decimal_places=4)
    is_exit = models.BooleanField(default=False)
    approved = models.BooleanField()
    summary = models.TextField()
    checks = models.JSONField(default=list, help_text="Each check: name, passed, reason.")
    sizing = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        verdict = "approved" if self.approved else "rejected"
        return f"{self.side} {self.quantity} {self.instrument} on {self.account}: {verdict}"


class ChargeSchedule(models.Model):
    """The charges model's rates for one exchange and product (see ``risk.charges``).

    Every fill is charged from these: paper fills pay them, Kite fills show them until the broker's
    own figure is known, and backtests use the same rates. Percentages are of turnover.
    """

    exchange = models.CharField(max_length=10)
    product = models.CharField(max_length=4)
    brokerage_pct = models.DecimalField("brokerage %", max_digits=8, decimal_places=5, default=0)
    brokerage_cap_per_order = models.DecimalField(
        "brokerage cap per order (₹)",
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Brokerage is the lower of the percentage and this, per executed order. Empty: no cap.",
    )
    stt_buy_pct = models.DecimalField("STT on buys %", max_digits=8, decimal_places=5, default=0)
    stt_sell_pct = models.DecimalField("STT on sells %", max_digits=8, decimal_places=5, default=0)
    exchange_txn_pct = models.DecimalField("exchange transaction charges %", max_digits=8, decimal_places=5, default=0)
    sebi_per_crore = models.DecimalField("SEBI fee per crore (₹)", max_digits=8, decimal_places=2, default=0)
    stamp_buy_pct = models.DecimalField("stamp duty on buys %", max_digits=8, decimal_places=5, default=0)
    gst_pct = models.DecimalField(
        "GST %", max_digits=5, decimal_places=2, default=0, help_text="On brokerage + SEBI fee + exchange charges."
    )
    updated_at = models.DateTimeField(auto_now=True)

    RATE_FIELDS = (
        "brokerage_pct",
        "brokerage_cap_per_order",
        "stt_buy_pct",
        "stt_sell_pct",
        "exchange_txn_pct",
        "sebi_per_crore",
        "stamp_buy_pct",
        "gst_pct",
    )

    class Meta:
        ordering = ["exchange", "product"]
        constraints = [models.UniqueConstraint(fields=["exchange", "product"], name="one_charge_schedule_per_segment")]

    def __str__(self) -> str:
        return f"Charges {self.exchange} {self.product}"

    def save(self, *args, **kwargs) -> None:
        super().save(*args, **kwargs)
        from .selectors import charge_rates_forget

        charge_rates_forget()

    def rates(self):
        from .charges import ChargeRates

        return ChargeRates(**{name: getattr(self, name) for name in self.RATE_FIELDS})
