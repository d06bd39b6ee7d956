"""Account-strategy mappings, orders, fills and the position ledger."""

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Sum

from strategies.models import Product

PERCENT = [MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("100"))]


class AccountStrategy(models.Model):
    """Maps a strategy onto an account with the share of capital it may use and risk per trade."""

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="mappings")
    strategy = models.ForeignKey("strategies.Strategy", on_delete=models.CASCADE, related_name="mappings")
    allocation_pct = models.DecimalField(
        "capital allocation %",
        max_digits=5,
        decimal_places=2,
        validators=PERCENT,
        help_text="Share of the account's capital this strategy may use.",
    )
    risk_per_trade_pct = models.DecimalField(
        "risk per trade %",
        max_digits=5,
        decimal_places=2,
        validators=PERCENT,
        help_text="Share of the allocated capital lost at most if a trade's stop is hit.",
    )
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "account-strategy mapping"
        ordering = ["account", "strategy"]
        constraints = [
            models.UniqueConstraint(fields=["account", "strategy"], name="one_mapping_per_account_strategy"),
        ]

    def __str__(self) -> str:
        return f"{self.strategy} on {self.account} ({self.allocation_pct}%)"

    def unique_error_message(self, model_class, unique_check):
        # In the trader's words, naming both, for the admin, the API and the services alike.
        if tuple(unique_check) == ("account", "strategy"):
            return ValidationError(
                f"{self.account} already has a mapping to {self.strategy}: change that mapping's allocation "
                "instead of adding a second one.",
                code="unique_together",
            )
        return super().unique_error_message(model_class, unique_check)

    @property
    def allocated_capital(self) -> Decimal:
        return (self.account.capital * self.allocation_pct / 100).quantize(Decimal("0.01"))

    @property
    def risk_budget(self) -> Decimal:
        return (self.allocated_capital * self.risk_per_trade_pct / 100).quantize(Decimal("0.01"))

    @property
    def max_positions(self) -> int:
        """The strategy's maximum concurrent positions (a selector may annotate ``instrument_count``)."""
        return self.strategy.position_limit(instrument_count=getattr(self, "instrument_count", None))

    @property
    def position_capital(self) -> Decimal:
        """One entry's capital cap on this account: what sizing uses (``risk.sizing.position_capital``)."""
        from risk.sizing import position_capital

        return position_capital(
            allocated_capital=self.account.capital * self.allocation_pct / 100, max_positions=self.max_positions
        )

    def clean(self) -> None:
        # The same rule is enforced under a row lock in services.mapping_save; this gives the
        # admin form a message naming the other mappings.
        if not self.enabled or self.allocation_pct is None or not self.account_id:
            return
        others = AccountStrategy.objects.filter(account_id=self.account_id, enabled=True).exclude(pk=self.pk)
        used = others.aggregate(total=Sum("allocation_pct"))["total"] or Decimal("0")
        if used + self.allocation_pct > 100:
            # Formatted to two places: SQLite's sums and values lose the column's scale.
            names = ", ".join(f"{m.strategy.name} {m.allocation_pct:.2f}%" for m in others.select_related("strategy"))
            raise ValidationError(
                {
                    "allocation_pct": (
                        f"This account's enabled mappings would add up to {used + self.allocation_pct:.2f}%, "
                        f"more than 100%. Already allocated: {names}. At most {100 - used:.2f}% is left."
                    )
                }
            )


class Side(models.TextChoices):
    BUY = "BUY", "Buy"
    SELL = "SELL", "Sell"


class OrderType(models.TextChoices):
    MARKET = "MARKET", "Market"
    LIMIT = "LIMIT", "Limit"
    SL = "SL", "Stop-loss limit"
    SLM = "SL-M", "Stop-loss market"


class OrderLeg(models.TextChoices):
    ENTRY = "entry", "Entry"
    EXIT = "exit", "Exit"


class OrderStatus(models.TextChoices):
    PENDING = "PENDING", "Pending (not yet sent)"
    SUBMITTED = "SUBMITTED", "Submitted to broker"
    OPEN = "OPEN", "Open at exchange"
    COMPLETE = "COMPLETE", "Complete"
    CANCELLED = "CANCELLED", "Cancelled"
    REJECTED = "REJECTED", "Rejected"
    UNKNOWN = "UNKNOWN", "Unknown (being reconciled)"
    BLOCKED = "BLOCKED", "Blocked by risk checks"


FINAL_STATUSES = frozenset({OrderStatus.COMPLETE, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.BLOCKED})
# Which status may follow which: the order state machine. Anything else is a bug or a stale update.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    OrderStatus.PENDING: frozenset(
        {
            OrderStatus.SUBMITTED,
            OrderStatus.OPEN,
            OrderStatus.COMPLETE,
            OrderStatus.REJECTED,
            OrderStatus.UNKNOWN,
            OrderStatus.CANCELLED,
        }
    ),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.OPEN, OrderStatus.COMPLETE, OrderStatus.REJECTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.OPEN: frozenset({OrderStatus.COMPLETE, OrderStatus.CANCELLED, OrderStatus.REJECTED}),
    OrderStatus.UNKNOWN: frozenset(
        {OrderStatus.SUBMITTED, OrderStatus.OPEN, OrderStatus.COMPLETE, OrderStatus.REJECTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.COMPLETE: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.BLOCKED: frozenset(),
}


class Order(models.Model):
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    signal = models.ForeignKey(
        "strategies.Signal", null=True, blank=True, on_delete=models.PROTECT, related_name="orders"
    )
    instrument = models.ForeignKey("strategies.Instrument", on_delete=models.PROTECT, related_name="orders")
    risk_decision = models.OneToOneField(
        "risk.RiskDecisionRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="order"
    )
    leg = models.CharField(max_length=5, choices=OrderLeg.choices)
    side = models.CharField(max_length=4, choices=Side.choices)
    quantity = models.PositiveIntegerField()
    product = models.CharField(max_length=4)
    order_type = models.CharField(max_length=6, choices=OrderType.choices, default=OrderType.MARKET)
    price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    trigger_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reference_price = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="Last price when the order was sized."
    )
    stop_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    tag = models.CharField(max_length=20, unique=True, help_text="Kite tag: how the order is found again.")
    status = models.CharField(max_length=10, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    status_message = models.TextField(blank=True)
    broker_order_id = models.CharField(max_length=40, blank=True, db_index=True)
    filled_quantity = models.PositiveIntegerField(default=0)
    average_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why the order exists (signal, square-off, ...).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    placed_at = models.DateTimeField(null=True, blank=True)
    unknown_checks = models.PositiveSmallIntegerField(
        default=0, help_text="Order-book lookups by tag that did not find this UNKNOWN order yet."
    )
    # The operation (emergency stop, flatten, square-off) that sent this exit or cancelled this order,
    # stamped as it happens, so a running or failed operation's record is exact, not estimated.
    operation = models.ForeignKey("Operation", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One order per (signal, account, leg): a redelivered task finds it, never sends twice.
            models.UniqueConstraint(
                fields=["signal", "account", "leg"],
                condition=models.Q(signal__isnull=False),
                name="one_order_per_signal_account_leg",
            ),
        ]
        indexes = [models.Index(fields=["account", "status"]), models.Index(fields=["account", "created_at"])]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.instrument} [{self.status}] on {self.account}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class Fill(models.Model):
    """One trade (execution) of an order. Unique per broker trade id, so a fill seen twice counts once."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="fills")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="fills")
    broker_trade_id = models.CharField(max_length=40)
    quantity = models.PositiveIntegerField()
    price = models.DecimalField(max_digits=14, decimal_places=4)
    realised_pnl = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        default=Decimal("0"),
        help_text="P&L this fill realised by closing part of a position.",
    )
    charges = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=Decimal("0"),
        help_text="Brokerage, STT, exchange charges, SEBI fee, stamp duty and GST this fill paid.",
    )
    charges_estimated = models.BooleanField(
        default=True, help_text="The charges model's figure (risk.charges); off once the broker's own is recorded."
    )
    filled_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-filled_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "broker_trade_id"], name="one_fill_per_trade"),
        ]
        indexes = [models.Index(fields=["account", "filled_at"])]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.price} ({self.order.tag})"


class Position(models.Model):
    """The system's ledger: what one strategy holds in one instrument on one account."""

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="positions")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.PROTECT, related_name="positions"
    )
    instrument = models.ForeignKey("strategies.Instrument", on_delete=models.PROTECT, related_name="positions")
    product = models.CharField(max_length=4)
    quantity = models.IntegerField(default=0, help_text="Signed: positive long, negative short.")
    average_price = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    realised_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    last_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    unrealised_pnl = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    marked_at = models.DateTimeField(null=True, blank=True)
    state_unknown = models.BooleanField(
        default=False, help_text="The broker session is gone: the real position cannot be read."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["account", "instrument"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "strategy", "instrument", "product"], name="one_position_per_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} {self.instrument} {self.quantity:+d} ({self.product})"


class PositionMismatch(models.Model):
    """The ledger (all strategies' positions summed) and the broker's net position disagree.

    One open row per account, instrument and product while they differ; shown to the operator and
    closed (``resolved_at``) when they agree again. The ledger is never overwritten to match.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="position_mismatches")
    instrument = models.ForeignKey(
        "strategies.Instrument", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    exchange = models.CharField(max_length=10)
    tradingsymbol = models.CharField(max_length=50)
    product = models.CharField(max_length=4)
    ledger_quantity = models.IntegerField(help_text="Signed sum of the system's positions across strategies.")
    broker_quantity = models.IntegerField(help_text="Signed net quantity the broker reports.")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "exchange", "tradingsymbol", "product"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_mismatch_per_position",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.account} {self.exchange}:{self.tradingsymbol} {self.product}: "
            f"ledger {self.ledger_quantity:+d}, broker {self.broker_quantity:+d}"
        )

    @property
    def difference(self) -> int:
        return self.broker_quantity - self.ledger_quantity


class EquityResolution(models.TextChoices):
    MINUTE = "minute", "Minute"
    DAY = "day", "Day (last mark of the day)"


class EquitySnapshot(models.Model):
    """An account's P&L today at one mark: what the intraday equity curve is drawn from.

    Written by the mark-to-market tick, at most one row per account and minute (the minute's last
    mark). Minute rows older than EQUITY_MINUTE_RETENTION_DAYS are compacted to one row a day.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="equity_snapshots")
    resolution = models.CharField(max_length=6, choices=EquityResolution.choices, default=EquityResolution.MINUTE)
    at = models.DateTimeField(help_text="The minute this row stands for (start of the minute).")
    marked_at = models.DateTimeField(help_text="When the mark behind it was taken.")
    realised = models.DecimalField(max_digits=16, decimal_places=2, help_text="Realised today by then.")
    unrealised = models.DecimalField(max_digits=16, decimal_places=2, help_text="Open positions at that mark.")
    charges = models.DecimalField(max_digits=14, decimal_places=2, help_text="Today's fills' charges by then.")

    class Meta:
        ordering = ["account", "at"]
        constraints = [
            models.UniqueConstraint(fields=["account", "resolution", "at"], name="one_equity_snapshot_per_minute"),
        ]
        indexes = [models.Index(fields=["resolution", "at"])]

    def __str__(self) -> str:
        return f"{self.account} {self.at:%Y-%m-%d %H:%M} {self.equity}"

    @property
    def equity(self) -> Decimal:
        return self.realised + self.unrealised

    @property
    def net(self) -> Decimal:
        return self.equity - self.charges


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    ORDERED = "ordered", "Ordered"
    REFUSED = "refused", "Refused"
    NOTHING_TO_DO = "nothing_to_do", "Nothing to do"
    EXPIRED = "expired", "Expired"


class Delivery(models.Model):
    """One mapped account's delivery of one signal: written pending with the signal, in its
    transaction, and decided exactly once under the account lock (ordered, refused, nothing to do)
    or expired by the sweeper past the signal's TTL. The database, not the broker, holds what
    must happen: a lost Celery message leaves the row pending, and the sweeper drives it again."""

    signal = models.ForeignKey("strategies.Signal", on_delete=models.CASCADE, related_name="deliveries")
    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="deliveries")
    state = models.CharField(max_length=13, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    reason = models.TextField(blank=True, help_text="Why it ended so: the decision's summary, or why it expired.")
    created_at = models.DateTimeField(auto_now_add=True)
    nudged_at = models.DateTimeField(null=True, blank=True, help_text="When the sweeper last sent it again.")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["signal", "account"]
        constraints = [
            models.UniqueConstraint(fields=["signal", "account"], name="one_delivery_per_signal_account"),
        ]
        indexes = [
            # The sweeper's scan: only pending rows are indexed.
            models.Index(fields=["created_at"], condition=models.Q(state="pending"), name="delivery_pending"),
        ]

    def __str__(self) -> str:
        return f"signal {self.signal_id} on account {self.account_id}: {self.state}"


class OperationKind(models.TextChoices):
    EMERGENCY_STOP = "emergency_stop", "Emergency stop"
    ACCOUNT_FLATTEN = "account_flatten", "Account flatten"
    STRATEGY_STOP = "strategy_stop", "Strategy stop"
    INTRADAY_SQUARE_OFF = "intraday_square_off", "MIS square-off"
    DAILY_LOSS_FLATTEN = "daily_loss_flatten", "Daily-loss flatten"


class OperationState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Operation(models.Model):
    """A long action on the book (cancels and exits: an operator's emergency stop, flatten or strategy
    stop, beat's MIS square-off, a daily-loss flatten) running as a task: what it started at once,
    its state, and what it did. Whoever started it returns at once with this row's status link."""

    kind = models.CharField(max_length=20, choices=OperationKind.choices)
    state = models.CharField(max_length=10, choices=OperationState.choices, default=OperationState.QUEUED)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200)
    # The scope: one account (flatten), one strategy (strategy stop), or everything (neither).
    account = models.ForeignKey("accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    strategy = models.ForeignKey(
        "strategies.Strategy", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    started = models.TextField(help_text="What took effect at once, before the task.")
    summary = models.TextField(blank=True, help_text="What the task did.")
    report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    running_since = models.DateTimeField(null=True, blank=True)
    # The run's last sign of life: set when a worker claims it and each time it reports progress. The
    # operations sweep (execution/operations/sweep.py) fails and replaces a run silent for longer than
    # OPERATION_STALL_SECONDS: its worker was lost.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the operations sweep last sent a still-queued operation's message again.
    nudged_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}: {self.state}"

    @property
    def scope(self) -> dict:
        """What it flattens, as a filter on orders and on positions (both have account, strategy and
        product): one account (a flatten, a daily-loss flatten), one strategy (a strategy stop), the
        MIS positions (the square-off), or everything (``{}``: the emergency stop). The one rule:
        the run flattens it (``execution.operations.runs``) and the progress pages read it."""
        if self.kind in (OperationKind.ACCOUNT_FLATTEN, OperationKind.DAILY_LOSS_FLATTEN):
            return {"account_id": self.account_id}
        if self.kind == OperationKind.STRATEGY_STOP:
            return {"strategy_id": self.strategy_id}
        if self.kind == OperationKind.INTRADAY_SQUARE_OFF:
            return {"product": Product.MIS}
        return {}
