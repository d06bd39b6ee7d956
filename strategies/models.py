"""Instruments, stored candles, the market calendar, strategies and the signals they emit."""

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from .ledger_detail import InstrumentDetailField


class Timeframe(models.TextChoices):
    M1 = "1m", "1 minute"
    M5 = "5m", "5 minutes"
    M15 = "15m", "15 minutes"
    H1 = "1h", "1 hour"
    D1 = "1d", "1 day"


class Product(models.TextChoices):
    MIS = "MIS", "MIS (intraday)"
    CNC = "CNC", "CNC (delivery)"
    NRML = "NRML", "NRML (overnight F&O)"


class Instrument(models.Model):
    instrument_token = models.BigIntegerField(unique=True)
    exchange_token = models.BigIntegerField(null=True, blank=True)
    exchange = models.CharField(max_length=10)
    tradingsymbol = models.CharField(max_length=50)
    name = models.CharField(max_length=120, blank=True)
    segment = models.CharField(max_length=20)
    instrument_type = models.CharField(max_length=10, default="EQ")
    lot_size = models.PositiveIntegerField(default=1)
    tick_size = models.DecimalField(max_digits=10, decimal_places=4, default="0.05")
    expiry = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["exchange", "tradingsymbol"]
        constraints = [
            models.UniqueConstraint(fields=["exchange", "tradingsymbol"], name="unique_exchange_symbol"),
        ]

    def __str__(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"

    @property
    def kite_symbol(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"


class Candle(models.Model):
    """One stored OHLCV bar; ``start`` is the bar's opening time (as Kite stamps candles)."""

    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="candles")
    timeframe = models.CharField(max_length=3, choices=Timeframe.choices)
    start = models.DateTimeField()
    open = models.DecimalField(max_digits=14, decimal_places=4)
    high = models.DecimalField(max_digits=14, decimal_places=4)
    low = models.DecimalField(max_digits=14, decimal_places=4)
    close = models.DecimalField(max_digits=14, decimal_places=4)
    volume = models.BigIntegerField(default=0)
    source = models.CharField(max_length=20, default="database")

    class Meta:
        ordering = ["instrument", "timeframe", "start"]
        constraints = [
            models.UniqueConstraint(fields=["instrument", "timeframe", "start"], name="unique_candle"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.timeframe} {self.start:%Y-%m-%d %H:%M}"


class MarketHoliday(models.Model):
    """An NSE trading holiday; real market data does not trade on these dates."""

    date = models.DateField(unique=True)
    description = models.CharField(max_length=120)

    class Meta:
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date}: {self.description}"


class Strategy(models.Model):
    name = models.CharField(max_length=80, unique=True)
    library_key = models.CharField(
        "strategy type", max_length=40, help_text="Which strategy class of the library runs this."
    )
    timeframe = models.CharField(max_length=3, choices=Timeframe.choices)
    instruments = models.ManyToManyField(Instrument, related_name="strategies")
    parameters = models.JSONField(default=dict, blank=True)
    product = models.CharField(max_length=4, choices=Product.choices, default=Product.MIS)
    active = models.BooleanField(default=True)
    trading_enabled = models.BooleanField(
        default=True, help_text="Kill switch for this strategy: when off, it sends no new entries."
    )
    enter_on_first_bar = models.BooleanField(
        default=False,
        help_text=(
            "On its first bar on an instrument (no signal there yet), take the position the strategy "
            "holds now instead of waiting for its target to change. Off: the first trade waits for a change."
        ),
    )
    max_positions = models.PositiveIntegerField(
        "maximum positions",
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=(
            "Most positions the strategy holds at once on an account. Each entry may use the mapping's "
            "allocated capital ÷ this number. Empty: the number of its instruments."
        ),
    )
    last_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.TextField(blank=True, editable=False, help_text="The last error its code raised, if any.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "strategies"

    def __str__(self) -> str:
        return self.name

    def position_limit(self, *, instrument_count: int | None = None) -> int:
        """The strategy's maximum concurrent positions: as set, or else one per instrument.

        ``instrument_count`` saves the query when the caller has counted them already.
        """
        if self.max_positions:
            return self.max_positions
        if instrument_count is None:
            instrument_count = self.instruments.count() if self.pk else 0
        return max(instrument_count, 1)

    def clean(self) -> None:
        from .library import StrategyParameterError, get_strategy_class

        try:
            strategy_class = get_strategy_class(self.library_key)
        except KeyError:
            raise ValidationError({"library_key": f"Unknown strategy type {self.library_key!r}."})
        try:
            self.parameters = strategy_class.validate_parameters(self.parameters or {})
        except StrategyParameterError as exc:
            raise ValidationError({"parameters": str(exc)})


class SignalSource(models.TextChoices):
    STRATEGY = "strategy", "Strategy"
    MANUAL = "manual", "Manual"
    WEBHOOK = "webhook", "Webhook"


class Signal(models.Model):
    """A change of a strategy's target position on one instrument, as of one bar.

    Unique per (strategy, instrument, bar_time): a beat tick delivered twice makes one signal.
    """

    strategy = models.ForeignKey(Strategy, on_delete=models.PROTECT, related_name="signals")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="signals")
    bar_time = models.DateTimeField(help_text="Close time of the bar the decision was taken on.")
    target = models.SmallIntegerField(help_text="+1 long, 0 flat, -1 short.")
    price = models.DecimalField(max_digits=14, decimal_places=4, help_text="Last close when emitted.")
    stop_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    source = models.CharField(max_length=10, choices=SignalSource.choices, default=SignalSource.STRATEGY)
    data_source = models.CharField(max_length=20, default="simulated")
    note = models.CharField(max_length=200, blank=True)
    caught_up_from = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Close time of the earlier bar the target changed on, when that bar was not evaluated "
        "and this bar caught the change up.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-bar_time", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "instrument", "bar_time"], name="one_signal_per_bar"),
            models.CheckConstraint(condition=models.Q(target__in=[-1, 0, 1]), name="signal_target_valid"),
        ]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        direction = {1: "LONG", 0: "FLAT", -1: "SHORT"}[self.target]
        bar_time = timezone.localtime(self.bar_time)
        return f"{self.strategy} {self.instrument} → {direction} @ {bar_time:%Y-%m-%d %H:%M}"


class StrategyWebhook(models.Model):
    """A strategy's door for alerts from charting tools (TradingView, Chartink, Amibroker).

    The URL names the webhook by a random public id; a request proves itself with the secret, which
    is shown once when created or rotated and stored only as its SHA-256 (it is a random 32-byte
    token, so a fast hash is enough and a request costs no key stretching).
    """

    strategy = models.OneToOneField(Strategy, on_delete=models.CASCADE, related_name="webhook")
    public_id = models.CharField(max_length=32, unique=True, editable=False)
    secret_sha256 = models.CharField(max_length=64, editable=False)
    enabled = models.BooleanField(default=True, help_text="Off: every request is refused (403) and logged.")
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "strategy webhook"

    def __str__(self) -> str:
        return f"Webhook of {self.strategy}"

    @property
    def path(self) -> str:
        return f"/api/webhooks/{self.public_id}"


class WebhookOutcome(models.TextChoices):
    ACCEPTED = "accepted", "Accepted: signal recorded"
    DUPLICATE = "duplicate", "Repeat of an earlier alert: no new signal"
    INVALID = "invalid", "Refused: bad input"
    UNAUTHORIZED = "unauthorized", "Refused: unknown webhook or wrong secret"
    DISABLED = "disabled", "Refused: webhook disabled"
    RATE_LIMITED = "rate_limited", "Refused: too many requests"
    CONFLICT = "conflict", "Refused: another signal holds this bar"


class WebhookRequest(models.Model):
    """Every request to a webhook URL, whatever became of it (the secret is never stored)."""

    webhook = models.ForeignKey(
        StrategyWebhook, null=True, blank=True, on_delete=models.SET_NULL, related_name="requests"
    )
    public_id = models.CharField(max_length=64, help_text="The id in the URL, as requested.")
    received_at = models.DateTimeField(auto_now_add=True)
    remote_addr = models.CharField(max_length=64, blank=True)
    status_code = models.PositiveSmallIntegerField()
    outcome = models.CharField(max_length=16, choices=WebhookOutcome.choices)
    message = models.TextField(blank=True)
    alert_id = models.CharField(max_length=100, blank=True)
    body = models.TextField(blank=True, help_text="The request's body (at most 2,000 characters), its secret removed.")
    signal = models.ForeignKey(
        Signal, null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_requests"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["webhook", "alert_id"]),
            models.Index(fields=["received_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.outcome} {self.status_code}"


class EvaluationOutcome(models.TextChoices):
    EVALUATED = "evaluated", "Evaluated"
    SKIPPED = "skipped", "Skipped"


class SkipReason(models.TextChoices):
    ENGINE_STOPPED = "engine_stopped", "Engine stopped"
    MARKET_CLOSED = "market_closed", "Market closed"
    TICK_LATE = "tick_late", "Tick late"
    DATA_MISSING = "data_missing", "Data missing"
    STRATEGY_ERROR = "strategy_error", "Strategy error"


class Evaluation(models.Model):
    """The evaluation ledger: one row per (strategy, bar), evaluated or skipped with its reason.

    ``instruments`` holds, per instrument symbol, what the strategy wanted on this bar and why
    (target, stop, close, the deciding indicator values, the last signalled target and the
    decision; stored in columns, see strategies/ledger_detail.py); ``problems`` names each
    instrument that was not evaluated or was refused, and why. Past EVALUATION_DETAIL_DAYS the
    detail keeps only the instruments that signalled or were caught up (``detail_trimmed``); rows
    older than EVALUATION_LEDGER_DAYS are deleted. Both by the hourly ledger task on beat.
    """

    strategy = models.ForeignKey(Strategy, on_delete=models.CASCADE, related_name="evaluations")
    timeframe = models.CharField(max_length=3, choices=Timeframe.choices)
    bar_close = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=EvaluationOutcome.choices)
    reason_code = models.CharField(max_length=20, choices=SkipReason.choices, blank=True)
    reason = models.TextField(blank=True)
    instruments_total = models.PositiveIntegerField(default=0)
    instruments_evaluated = models.PositiveIntegerField(default=0)
    signals_made = models.PositiveIntegerField(default=0)
    instruments = InstrumentDetailField(default=dict, blank=True)  # stored in columns, read as dicts
    problems = models.JSONField(default=dict, blank=True)
    # Past EVALUATION_DETAIL_DAYS the detail keeps only the instruments that signalled or caught up.
    detail_trimmed = models.BooleanField(default=False)
    data_source = models.CharField(max_length=20, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-bar_close", "strategy_id"]
        constraints = [
            models.UniqueConstraint(fields=["strategy", "bar_close"], name="one_evaluation_per_strategy_bar"),
        ]
        indexes = [models.Index(fields=["bar_close"]), models.Index(fields=["recorded_at"])]

    def __str__(self) -> str:
        bar_close = timezone.localtime(self.bar_close)
        return f"{self.strategy_id} {self.timeframe} {bar_close:%Y-%m-%d %H:%M} {self.outcome}"
