"""Reads for strategies, instruments and market data."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from django.conf import settings
from django.db.models import QuerySet

from .models import Evaluation, EvaluationOutcome, Instrument, MarketHoliday, Signal, SignalSource, Strategy


def market_holidays() -> frozenset:
    return frozenset(MarketHoliday.objects.values_list("date", flat=True))


def exchange_calendar():
    """The NSE calendar with the holidays an operator keeps in the admin."""
    from .calendar import MarketCalendar

    return MarketCalendar(holidays=market_holidays())


def market_data_source():
    """The configured market-data source; the simulated one may run around the clock.

    Sources are kept per process (keyed by their configuration and the holiday list) so their
    caches of generated or fetched candles survive from one bar to the next.
    """
    source = settings.MARKET_DATA_SOURCE
    around_the_clock = source == "simulated" and settings.SIMULATED_MARKET_24X7
    holidays = frozenset() if around_the_clock else market_holidays()
    return _market_data_source(source, around_the_clock, holidays)


@lru_cache(maxsize=8)
def _market_data_source(source: str, around_the_clock: bool, holidays: frozenset):
    from .calendar import MarketCalendar
    from .marketdata import DatabaseMarketData, SimulatedMarketData

    calendar = MarketCalendar(holidays=holidays, around_the_clock=around_the_clock)
    if source == "simulated":
        return SimulatedMarketData(calendar=calendar)
    if source == "database":
        return DatabaseMarketData(calendar=calendar)
    if source == "kite":
        from .marketdata.kite import KiteMarketData

        return KiteMarketData(calendar=calendar)
    raise ValueError(f"Unknown MARKET_DATA_SOURCE {source!r}: use simulated, database or kite")


def active_strategies(*, timeframe: str | None = None) -> QuerySet[Strategy]:
    """Active strategies (their instruments: ``strategy_instruments``, one instance per instrument)."""
    qs = Strategy.objects.filter(active=True)
    return qs.filter(timeframe=timeframe) if timeframe else qs


def strategy_instruments(*, strategy_ids: list[int]) -> dict[int, list[Instrument]]:
    """Strategy id -> its instruments, in two queries; strategies sharing an instrument share
    one instance of it (five strategies on 500 instruments build 500, not 2,500)."""
    pairs = list(
        Strategy.instruments.through.objects.filter(strategy_id__in=strategy_ids).values_list(
            "strategy_id", "instrument_id"
        )
    )
    instruments = Instrument.objects.in_bulk({instrument_id for _, instrument_id in pairs})
    out: dict[int, list[Instrument]] = {pk: [] for pk in strategy_ids}
    for strategy_id, instrument_id in pairs:
        out[strategy_id].append(instruments[instrument_id])
    for members in out.values():
        members.sort(key=lambda i: (i.exchange, i.tradingsymbol))
    return out


def instrument_by_symbol(symbol: str) -> Instrument:
    """Find "NSE:INFY" or "INFY" (NSE assumed)."""
    exchange, _, tradingsymbol = symbol.rpartition(":")
    return Instrument.objects.get(exchange=(exchange or "NSE").upper(), tradingsymbol=tradingsymbol.upper())


def recent_signals(*, limit: int = 50) -> QuerySet[Signal]:
    return Signal.objects.select_related("strategy", "instrument").order_by("-created_at")[:limit]


def strategy_run_summary() -> dict:
    """How many strategies there are and are active, when the engine last evaluated one, and
    which failed on their last evaluation. Two queries."""
    from django.db.models import Count, Max, Q

    summary = Strategy.objects.aggregate(
        total=Count("id"), active=Count("id", filter=Q(active=True)), last_evaluated_at=Max("last_evaluated_at")
    )
    summary["failing"] = list(
        Strategy.objects.filter(active=True).exclude(last_error="").order_by("name").values_list("name", flat=True)
    )
    return summary


# --- the evaluation ledger ---------------------------------------------------------------------


class LastSignal(NamedTuple):
    """What a strategy last signalled on an instrument, and whether an operator or an alert made it."""

    target: int
    bar_time: datetime
    external: bool  # a manual signal or a webhook alert, not the strategy's own


def last_signalled_targets(
    *, strategy_ids: list[int], before: datetime, until: datetime | None = None
) -> dict[tuple[int, int], LastSignal]:
    """(strategy id, instrument id) -> the latest signal the accounts were sent there, whoever made
    it (the strategy, an operator, a webhook alert), for evaluating the bar closing at ``before``.

    Signals on bars before ``before`` count, and a manual or webhook signal stamped from the bar's
    close up to ``until`` (the moment of the evaluation) too: made after the bar closed and before
    the tick evaluated it, it was the operator's word after the strategy's (it overrides the bar's
    change). "Latest" is the latest made (by id), not the latest bar time: the accounts follow the
    signals in the order they were made, and a manual signal stamped a second after the bar's close
    can be made before the strategy's signal on that bar (the tick's evaluation was under way); read
    by bar time, the strategy would take the operator's target for what it last signalled while the
    accounts hold its own, and its next change back to that target would never be sent.
    """
    from django.db.models import OuterRef, Q, Subquery

    counted = Q(bar_time__lt=before)
    if until is not None and until >= before:
        counted |= Q(bar_time__gte=before, bar_time__lte=until) & ~Q(source=SignalSource.STRATEGY)
    earlier = Signal.objects.filter(counted, strategy_id__in=strategy_ids)
    latest = earlier.filter(strategy_id=OuterRef("strategy_id"), instrument_id=OuterRef("instrument_id")).order_by(
        "-id"
    )
    rows = earlier.filter(id=Subquery(latest.values("id")[:1])).values_list(
        "strategy_id", "instrument_id", "target", "bar_time", "source"
    )
    return {
        (strategy_id, instrument_id): LastSignal(target, bar_time, source != SignalSource.STRATEGY)
        for strategy_id, instrument_id, target, bar_time, source in rows
    }


def first_evaluated_bars(*, strategy_ids: list[int]) -> dict[int, datetime]:
    """Strategy id -> the close of the first bar it was evaluated on (still in the ledger)."""
    from django.db.models import Min

    rows = (
        Evaluation.objects.filter(strategy_id__in=strategy_ids, outcome=EvaluationOutcome.EVALUATED)
        .values("strategy_id")
        .annotate(first=Min("bar_close"))
        .values_list("strategy_id", "first")
    )
    return dict(rows)


def strategies_evaluated_on(*, strategy_ids: list[int], bar_close: datetime) -> set[int]:
    """The strategies among ``strategy_ids`` the ledger has as evaluated on the bar closing at
    ``bar_close`` (a skipped row does not count: the bar may still be evaluated)."""
    rows = Evaluation.objects.filter(
        strategy_id__in=strategy_ids, bar_close=bar_close, outcome=EvaluationOutcome.EVALUATED
    ).values_list("strategy_id", flat=True)
    return set(rows)


def evaluations(*, strategy_id: int | None = None) -> QuerySet[Evaluation]:
    qs = Evaluation.objects.select_related("strategy").order_by("-bar_close", "strategy_id")
    return qs.filter(strategy_id=strategy_id) if strategy_id else qs


@dataclass
class InstrumentState:
    """What a strategy wants on one instrument and why nothing (or something) happened."""

    instrument_id: int
    symbol: str
    target: int | None = None
    stop: float | None = None
    close: float | None = None
    indicators: dict = field(default_factory=dict)
    last_signal_target: int | None = None
    last_signal_bar: datetime | None = None
    last_bar: datetime | None = None
    last_outcome: str = ""
    why: str = ""
    bars: list[dict] = field(default_factory=list)
    verdict: str = ""  # what happened on the last bar, one of VERDICTS ("" before the first bar)

    @property
    def wants(self) -> str | None:
        """The target in a trader's words: long, short or flat (None before it was evaluated)."""
        return None if self.target is None else TARGET_WORDS[self.target]


TRIMMED_WHY = "no signal (an older bar: its per-instrument detail is kept for signals only, EVALUATION_DETAIL_DAYS)"


def strategy_instrument_states(
    *, strategy: Strategy, instrument_id: int | None = None, bars: int = 5
) -> list[InstrumentState]:
    """Per instrument of the strategy: its target, stop and indicator values on the last evaluated
    bar, what it last signalled, its last ``bars`` ledger entries and why nothing happened.
    Three queries."""
    instruments = list(strategy.instruments.all())
    if instrument_id is not None:
        instruments = [i for i in instruments if i.pk == instrument_id]
    states = {i.kite_symbol: InstrumentState(instrument_id=i.pk, symbol=i.kite_symbol) for i in instruments}
    recent = list(
        Evaluation.objects.filter(strategy=strategy)
        .order_by("-bar_close")
        .values("bar_close", "outcome", "reason_code", "reason", "instruments", "problems", "detail_trimmed")[:bars]
    )
    for row in recent:
        for symbol, state in states.items():
            detail = row["instruments"].get(symbol)
            problem = row["problems"].get(symbol, "")
            trimmed = row["detail_trimmed"] and detail is None and not problem
            if detail is None and not problem and row["outcome"] == EvaluationOutcome.EVALUATED and not trimmed:
                continue  # the instrument was not part of the strategy then
            why = problem or (detail or {}).get("note", "") or (TRIMMED_WHY if trimmed else row["reason"])
            verdict = _verdict(reason_code=row["reason_code"], detail=detail, problem=problem, trimmed=trimmed)
            entry = {"bar_close": row["bar_close"], "outcome": row["outcome"], "verdict": verdict, "why": why}
            if detail:
                entry.update(target=detail["target"], stop=detail["stop"], signal=detail["signal"])
            state.bars.append(entry)
            if state.last_bar is None:
                state.last_bar, state.last_outcome, state.why = row["bar_close"], row["outcome"], why
                state.verdict = verdict
            if detail and state.target is None:
                state.target, state.stop, state.close = detail["target"], detail["stop"], detail["close"]
                state.indicators = detail["indicators"]
    by_id = {state.instrument_id: state for state in states.values()}
    last = last_signals(strategy_id=strategy.pk, instrument_ids=list(by_id))
    for pk, (target, bar_time) in last.items():
        by_id[pk].last_signal_target, by_id[pk].last_signal_bar = target, bar_time
    return list(states.values())


def last_signals(*, strategy_id: int, instrument_ids: list[int]) -> dict[int, tuple[int, datetime]]:
    """Instrument id -> (target, bar time) of the strategy's latest signal there: the latest made,
    as the evaluation reads it (``last_signalled_targets``)."""
    from django.db.models import OuterRef, Subquery

    mine = Signal.objects.filter(strategy_id=strategy_id, instrument_id__in=instrument_ids)
    latest = mine.filter(instrument_id=OuterRef("instrument_id")).order_by("-id")
    rows = mine.filter(id=Subquery(latest.values("id")[:1])).values_list("instrument_id", "target", "bar_time")
    return {pk: (target, bar_time) for pk, target, bar_time in rows}


# --- strategy state in a trader's words, for the strategy page, the chart and the API -----------

TARGET_WORDS = {1: "long", 0: "flat", -1: "short"}
# What a bar did on one instrument, most useful first: the page and the API show the same words.
VERDICTS = {
    "signalled": "Signalled",
    "no_change": "No change",
    "overridden": "Overridden by a manual signal or alert",
    "not_signalled": "Changed outside the catch-up window",
    "skipped": "Skipped",
    "data_missing": "Data missing",
    "error": "Strategy error",
}


def _verdict(*, reason_code: str, detail: dict | None, problem: str, trimmed: bool = False) -> str:
    """One of VERDICTS for an instrument on one ledger row."""
    if trimmed:  # an older row keeps the detail of the instruments that signalled only
        return "no_change"
    if detail:  # evaluated: the strategy said what it wants there
        if detail.get("signal"):
            return "signalled"
        if problem:
            return "not_signalled"
        # A manual signal or an alert came after its change: it waits for its next one.
        from .evaluation.rule import OVERRIDDEN_NOTE

        return "overridden" if OVERRIDDEN_NOTE in (detail.get("note") or "") else "no_change"
    if reason_code == "strategy_error" or problem.startswith(("strategy error", "refused")):
        return "error"
    if problem or reason_code == "data_missing":
        return "data_missing"
    return "skipped"  # the whole bar: engine stopped, market closed, tick late


def instrument_strategy_states(*, instrument_id: int, bars: int = 5) -> list[tuple[Strategy, InstrumentState]]:
    """Each strategy trading the instrument (active first) with its state there, as
    ``strategy_instrument_states`` gives it: the price chart's panel."""
    strategies = Strategy.objects.filter(instruments__pk=instrument_id).order_by("-active", "name")
    out = []
    for strategy in strategies:
        states = strategy_instrument_states(strategy=strategy, instrument_id=instrument_id, bars=bars)
        if states:
            out.append((strategy, states[0]))
    return out


def ledger_indicator_values(
    *, strategy_id: int, symbol: str, since: datetime, until: datetime
) -> list[tuple[datetime, dict]]:
    """(bar close, indicator values) of ``symbol`` on each bar the strategy evaluated it with
    ``since < bar close <= until``, oldest first: the values it decided on. One query; only that
    instrument's values are read out of each row's detail."""
    from django.db.models import ExpressionWrapper, F, JSONField

    from .ledger_detail import indicators_of

    rows = (
        Evaluation.objects.filter(
            strategy_id=strategy_id,
            outcome=EvaluationOutcome.EVALUATED,
            bar_close__gt=since,
            bar_close__lte=until,
        )
        .order_by("bar_close")
        # The detail as stored (a plain JSONField's reading), not decoded for every instrument.
        .annotate(stored=ExpressionWrapper(F("instruments"), output_field=JSONField()))
        .values_list("bar_close", "stored")
    )
    out = []
    for bar_close, stored in rows:
        indicators = indicators_of(stored, symbol)
        if indicators:
            out.append((bar_close, indicators))
    return out


def next_bar_close(*, timeframe: str, at: datetime | None = None) -> datetime | None:
    """When the next ``timeframe`` bar after ``at`` (now) closes on the market data's calendar:
    when a strategy that was not evaluated yet first decides. None when it cannot be known."""
    from django.utils import timezone

    try:
        return market_data_source().calendar.next_bar_close(timeframe, at or timezone.now())
    except Exception:  # a source without a calendar (a plugin's) or an unknown timeframe: say nothing
        return None
