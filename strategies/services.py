"""Writes for strategies: evaluating them on a bar and recording the signals they emit."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from . import selectors
from .evaluation import BarContext, EvaluationReport, catch_up_window_start, evaluate_bar
from .marketdata.base import MarketDataSource
from .models import (
    Evaluation,
    EvaluationOutcome,
    Instrument,
    Signal,
    SignalSource,
    Strategy,
    StrategyWebhook,
    WebhookRequest,
)

logger = logging.getLogger(__name__)


def evaluate_timeframe(
    *,
    strategies: list[Strategy],
    timeframe: str,
    bar_close: datetime,
    source: MarketDataSource,
    now: datetime | None = None,
) -> EvaluationReport:
    """Evaluate the strategies on the bar closing at ``bar_close`` (level-triggered, see
    strategies/evaluation/); nothing is written: the engine records signals, then the ledger.

    ``now``: when the bar is evaluated (the tick's time; a replay's ``--at``): a manual signal or an
    alert made between the bar's close and then overrides the bar's change (None: none counts)."""
    from django.conf import settings

    ids = [s.pk for s in strategies]
    context = BarContext(
        timeframe=timeframe,
        bar_close=bar_close,
        calendar=source.calendar,
        window_start=catch_up_window_start(source.calendar, timeframe, bar_close, settings.EVALUATION_CATCH_UP_WINDOW),
        data_source=source.label,
    )
    return evaluate_bar(
        strategies=strategies,
        context=context,
        source=source,
        members=selectors.strategy_instruments(strategy_ids=ids),
        last_signalled=selectors.last_signalled_targets(strategy_ids=ids, before=bar_close, until=now),
        first_evaluated=selectors.first_evaluated_bars(strategy_ids=ids),
        processes=settings.EVALUATION_PROCESSES,
        parallel_from=settings.EVALUATION_PARALLEL_FROM,
    )


_LEDGER_FIELDS = (
    "timeframe",
    "outcome",
    "reason_code",
    "reason",
    "instruments_total",
    "instruments_evaluated",
    "signals_made",
    "instruments",
    "problems",
    "detail_trimmed",  # a bar evaluated again (evaluate --at) has all its detail again
    "data_source",
    "duration_ms",
    "recorded_at",
)


def evaluations_record(
    *, report: EvaluationReport, timeframe: str, bar_close: datetime, signals_made: Mapping[int, int]
) -> None:
    """Write each strategy's ledger row for the bar (a re-run of the bar replaces it) and its
    last-evaluated time and error."""
    now = timezone.now()
    rows = [
        Evaluation(
            strategy_id=ev.strategy.pk,
            timeframe=timeframe,
            bar_close=bar_close,
            outcome=ev.outcome,
            reason_code=ev.reason_code,
            reason=ev.reason,
            instruments_total=ev.instruments_total,
            instruments_evaluated=ev.instruments_evaluated,
            signals_made=signals_made.get(ev.strategy.pk, 0),
            instruments=ev.instruments,
            problems=ev.problems,
            data_source=report.data_source,
            duration_ms=ev.duration_ms,
            recorded_at=now,
        )
        for ev in report.evaluations
    ]
    with transaction.atomic():
        Evaluation.objects.bulk_create(
            rows, update_conflicts=True, unique_fields=["strategy", "bar_close"], update_fields=_LEDGER_FIELDS
        )
        for ev in report.evaluations:
            error = ev.reason if ev.outcome != EvaluationOutcome.EVALUATED else ""
            if error:
                logger.warning("strategy %s not evaluated: %s", ev.strategy.name, error)
            Strategy.objects.filter(pk=ev.strategy.pk).update(last_evaluated_at=now, last_error=error)


def evaluations_skip(
    *, strategies: list[Strategy], timeframe: str, bar_close: datetime, reason_code: str, reason: str
) -> None:
    """Record the bar as skipped for each strategy, unless the ledger already has the bar for it
    (an evaluated bar is never overwritten by a later, skipped tick)."""
    now = timezone.now()
    members = selectors.strategy_instruments(strategy_ids=[s.pk for s in strategies])
    Evaluation.objects.bulk_create(
        [
            Evaluation(
                strategy_id=strategy.pk,
                timeframe=timeframe,
                bar_close=bar_close,
                outcome=EvaluationOutcome.SKIPPED,
                reason_code=reason_code,
                reason=reason,
                instruments_total=len(members[strategy.pk]),
                recorded_at=now,
            )
            for strategy in strategies
        ],
        ignore_conflicts=True,
    )


def evaluations_delete_older(*, days: int, now: datetime | None = None) -> int:
    """Delete ledger rows of bars that closed more than ``days`` days ago; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = Evaluation.objects.filter(bar_close__lt=cutoff).delete()
    return deleted


def evaluations_trim_detail(*, days: int, now: datetime | None = None, batch: int = 200) -> int:
    """Trim the per-instrument detail of ledger rows of bars that closed more than ``days`` days
    ago to the instruments that signalled or were caught up; returns how many rows were trimmed.

    Each strategy's last evaluated row keeps all its detail, however old: the strategy's page
    shows what it wants on every instrument from it (after a weekend, say). The summary, the
    problems and every signal stay until EVALUATION_LEDGER_DAYS.
    """
    from django.db.models import Max

    cutoff = (now or timezone.now()) - timedelta(days=days)
    evaluated = Evaluation.objects.filter(outcome=EvaluationOutcome.EVALUATED)
    latest = evaluated.values("strategy_id").annotate(last=Max("bar_close")).values_list("strategy_id", "last")
    keep = Q()
    for strategy_id, last in latest:
        keep |= Q(strategy_id=strategy_id, bar_close=last)
    rows = evaluated.filter(bar_close__lt=cutoff, detail_trimmed=False).exclude(keep).only("id", "instruments")
    trimmed = 0
    pending: list[Evaluation] = []
    for row in rows.iterator(chunk_size=batch):
        row.instruments = {
            symbol: detail
            for symbol, detail in row.instruments.items()
            if detail.get("signal") or detail.get("caught_up_from")
        }
        row.detail_trimmed = True
        pending.append(row)
        if len(pending) >= batch:
            trimmed += Evaluation.objects.bulk_update(pending, ["instruments", "detail_trimmed"])
            pending = []
    if pending:
        trimmed += Evaluation.objects.bulk_update(pending, ["instruments", "detail_trimmed"])
    return trimmed


def webhook_requests_delete_older(*, days: int, now: datetime | None = None) -> int:
    """Delete webhook requests received more than ``days`` days ago; returns how many.

    The signals they made stay (a signal is the trading record); an ``alert_id`` repeated after its
    request is gone is no longer answered as a repeat, but its bar still makes one signal.
    """
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = WebhookRequest.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def signal_record(
    *,
    strategy: Strategy,
    instrument: Instrument,
    bar_time: datetime,
    target: int,
    price: Decimal,
    stop_price: Decimal | None,
    source: str = SignalSource.STRATEGY,
    data_source: str = "",
    note: str = "",
    caught_up_from: datetime | None = None,
) -> tuple[Signal, bool]:
    """Record a signal once per (strategy, instrument, bar); returns (signal, created)."""
    if target not in (-1, 0, 1):
        raise ValueError("target must be -1 (short), 0 (flat) or +1 (long)")
    defaults = {
        "target": target,
        "price": price,
        "stop_price": stop_price,
        "source": source,
        "data_source": data_source,
        "note": note,
        "caught_up_from": caught_up_from,
    }
    try:
        with transaction.atomic():
            return Signal.objects.get_or_create(
                strategy=strategy, instrument=instrument, bar_time=bar_time, defaults=defaults
            )
    except IntegrityError:
        # Two workers raced on the same bar: the other one's row stands.
        return Signal.objects.get(strategy=strategy, instrument=instrument, bar_time=bar_time), False


# --- instruments ------------------------------------------------------------------------------
INSTRUMENT_CSV_COLUMNS = {
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
    "expiry",
}


class InstrumentFileError(ValueError):
    """The instruments file is not in Kite's instruments CSV format; the message says where."""


def instruments_load_csv(*, text: str, exchanges: set[str] | None = None) -> tuple[int, int]:
    """Create or update instruments from a Kite instruments CSV. Returns (created, updated).

    Every row is validated before anything is written: a bad file changes nothing.
    """
    import csv
    import io

    reader = csv.DictReader(io.StringIO(text))
    missing = INSTRUMENT_CSV_COLUMNS - set(reader.fieldnames or [])
    if missing:
        raise InstrumentFileError(f"not a Kite instruments CSV: missing columns {sorted(missing)}")
    return instruments_load_rows(rows=reader, exchanges=exchanges, first_row=2, row_label="line")


def instruments_load_rows(
    *,
    rows: Iterable[Mapping],
    exchanges: set[str] | None = None,
    first_row: int = 1,
    row_label: str = "row",
) -> tuple[int, int]:
    """Create or update instruments from rows with Kite's instrument columns. Returns (created, updated).

    A row holds either the CSV's strings or ``KiteConnect.instruments()``'s parsed values (numbers,
    an expiry date). Every row is validated before anything is written: a bad list changes nothing.
    """
    values = []
    for number, row in enumerate(rows, start=first_row):
        missing = INSTRUMENT_CSV_COLUMNS - set(row)
        if missing:
            raise InstrumentFileError(f"{row_label} {number}: missing columns {sorted(missing)}")
        if exchanges and row["exchange"] not in exchanges:
            continue
        try:
            values.append(_instrument_values(row))
        except (ValueError, TypeError, ArithmeticError) as exc:
            raise InstrumentFileError(f"{row_label} {number}: {exc}") from None
    return _instruments_save(values)


def _instrument_values(row: Mapping) -> dict:
    from datetime import date as date_type

    tick = Decimal(str(row["tick_size"]))
    lot = int(row["lot_size"])
    if tick <= 0 or lot <= 0:
        raise ValueError("tick_size and lot_size must be positive")
    expiry = row["expiry"]
    if expiry and not isinstance(expiry, date_type):
        expiry = date_type.fromisoformat(str(expiry))
    return {
        "instrument_token": int(row["instrument_token"]),
        "exchange_token": int(row["exchange_token"]) if row["exchange_token"] not in ("", None) else None,
        "exchange": str(row["exchange"]).strip(),
        "tradingsymbol": str(row["tradingsymbol"]).strip(),
        "name": str(row["name"]).strip()[:120],
        "segment": str(row["segment"]).strip(),
        "instrument_type": str(row["instrument_type"]).strip(),
        "lot_size": lot,
        "tick_size": tick,
        "expiry": expiry or None,
    }


INSTRUMENT_FIELDS = (
    "instrument_token",
    "exchange_token",
    "name",
    "segment",
    "instrument_type",
    "lot_size",
    "tick_size",
    "expiry",
)


def _instruments_save(rows: list[dict]) -> tuple[int, int]:
    """Create or update in bulk, an instrument being its (exchange, tradingsymbol).

    The symbol is what strategies, positions and traders refer to; Kite's token for it may change
    (it then follows the symbol), and a symbol renamed under its token is followed too. A token
    that another stored symbol keeps is refused, naming both.
    """
    by_key = {(v["exchange"], v["tradingsymbol"]): v for v in rows}  # a symbol listed twice: the last wins
    with transaction.atomic():
        exchanges = {exchange for exchange, _ in by_key}
        existing = {(i.exchange, i.tradingsymbol): i for i in Instrument.objects.filter(exchange__in=exchanges)}
        # Tokens are unique across exchanges: every stored one, to spot a token moving between symbols.
        stored = Instrument.objects.values_list("instrument_token", "exchange", "tradingsymbol")
        holders = {token: (exchange, symbol) for token, exchange, symbol in stored}
        changed, created = [], []
        for key, values in by_key.items():
            token, instrument = values["instrument_token"], existing.get(key)
            holder = holders.get(token)
            if holder not in (None, key):
                holder_listed_with = by_key.get(holder, {}).get("instrument_token")
                if holder_listed_with is None and instrument is None:
                    # Kite renamed the symbol (same token, old name gone): the instrument follows its token.
                    instrument = Instrument.objects.get(instrument_token=token)
                    instrument.exchange, instrument.tradingsymbol = key
                    changed.append(instrument)
                elif holder_listed_with in (None, token):
                    raise InstrumentFileError(
                        f"{key[0]}:{key[1]} has token {token}, which {holder[0]}:{holder[1]} still holds here; "
                        "edit or remove that instrument first"
                    )
            if instrument is None:
                created.append(Instrument(**values))
            elif any(getattr(instrument, name) != values[name] for name in INSTRUMENT_FIELDS):
                for name in INSTRUMENT_FIELDS:
                    setattr(instrument, name, values[name])
                if instrument not in changed:
                    changed.append(instrument)
        try:
            with transaction.atomic():
                fields = ("exchange", "tradingsymbol", *INSTRUMENT_FIELDS)  # a renamed symbol moves too
                Instrument.objects.bulk_update(changed, fields, batch_size=1000)
                Instrument.objects.bulk_create(created, batch_size=1000)
        except IntegrityError as exc:  # e.g. two listed symbols swapping their tokens
            raise InstrumentFileError(f"the list conflicts with the instruments stored here: {exc}") from None
    return len(created), len(changed)


def instruments_sync_kite(*, exchange: str | None = None) -> tuple[int, int]:
    """Load Kite's instrument list (one exchange, or all) through the data account. Returns (created, updated).

    Raises MarketDataUnavailable when there is no logged-in data account or Kite fails.
    """
    from .marketdata.kite import fetch_instruments

    return instruments_load_rows(rows=fetch_instruments(exchange))


# --- creating and editing strategies (the API and the admin) ------------------------------------

STRATEGY_EDITABLE_FIELDS = frozenset(
    {
        "name",
        "library_key",
        "timeframe",
        "parameters",
        "product",
        "active",
        "trading_enabled",
        "enter_on_first_bar",
        "max_positions",
    }
)


def _strategy_save(strategy: Strategy, *, instruments: list[Instrument] | None) -> Strategy:
    strategy.full_clean()  # validates library_key and the parameters against the strategy type
    strategy.save()
    if instruments is not None:
        strategy.instruments.set(instruments)
    return strategy


@transaction.atomic
def strategy_create(*, instruments: list[Instrument], **fields) -> Strategy:
    """Create a strategy from ``STRATEGY_EDITABLE_FIELDS``; raises ValidationError naming the field."""
    unknown = set(fields) - STRATEGY_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"strategy_create() got fields it does not set: {', '.join(sorted(unknown))}")
    return _strategy_save(Strategy(**fields), instruments=instruments)


@transaction.atomic
def strategy_update(*, strategy: Strategy, instruments: list[Instrument] | None = None, **changes) -> Strategy:
    unknown = set(changes) - STRATEGY_EDITABLE_FIELDS
    if unknown:
        raise TypeError(f"strategy_update() got fields it does not change: {', '.join(sorted(unknown))}")
    strategy = Strategy.objects.select_for_update().get(pk=strategy.pk)
    for name, value in changes.items():
        setattr(strategy, name, value)
    return _strategy_save(strategy, instruments=instruments)


def strategy_set_active(*, strategy: Strategy, active: bool, actor=None) -> bool:
    """Switch a strategy's evaluation on or off. Returns whether anything changed.

    An inactive strategy is no longer evaluated, so it emits no new signals; its open positions
    stay as they are (exits and square-off go on through the execution path).
    """
    # A save, not a queryset update, so the change reaches the audit log (tradingsite/audit.py).
    with transaction.atomic():
        current = Strategy.objects.select_for_update().get(pk=strategy.pk)
        changed = current.active != active
        if changed:
            current.active = active
            current.save(update_fields=["active", "updated_at"])
    if changed:
        strategy.active = active
        logger.info("strategy %s %s by %s", strategy.name, "activated" if active else "deactivated", actor or "system")
    return changed


# --- webhooks ---------------------------------------------------------------------------------


def webhook_secret_hash(secret: str) -> str:
    import hashlib

    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def strategy_webhook_rotate(*, strategy: Strategy, actor=None) -> tuple[StrategyWebhook, str]:
    """Give the strategy a webhook, or a new secret for the one it has; returns it and the secret.

    The secret is returned here once and stored only hashed: whoever rotates it must copy it now.
    Rotating keeps the URL, so an alert only needs its new secret; the old one stops working at once.
    """
    import secrets

    secret = secrets.token_urlsafe(32)
    webhook = StrategyWebhook.objects.select_for_update().filter(strategy=strategy).first()
    if webhook is None:
        webhook = StrategyWebhook(strategy=strategy, public_id=secrets.token_hex(12))
    else:
        webhook.rotated_at = timezone.now()
    webhook.secret_sha256 = webhook_secret_hash(secret)
    webhook.save()
    logger.info("webhook secret of strategy %s set by %s", strategy.name, actor or "system")
    return webhook, secret
