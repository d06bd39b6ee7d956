"""The price chart of one instrument and timeframe: candles, a strategy's lines, its signals and
the fills of every account, each event placed on the bar it happened in.

The candles are the configured market-data source's, the same the strategy is evaluated on, and
the lines come from running the strategy's own code over them (with its warm-up bars before the
window), so the chart shows what the strategy saw.
"""

from __future__ import annotations

import bisect
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from strategies.calendar import TIMEFRAME_MINUTES
from strategies.library import StrategyError, get_strategy_class
from strategies.marketdata import MarketDataUnavailable
from strategies.models import Instrument, Signal, Strategy

from ..models import Fill

logger = logging.getLogger(__name__)

DEFAULT_BARS = 150
MAX_BARS = 1000
MAX_FILLS = 2000
_INSTANT = timedelta(microseconds=1)


@dataclass
class PriceChart:
    instrument: Instrument
    timeframe: str
    strategy: Strategy | None
    data_source: str
    candles: list[dict] = field(default_factory=list)  # time (bar start, epoch s), open, high, low, close
    lines: list[dict] = field(default_factory=list)  # name, points [{time, value or None: a gap}]
    signals: list[dict] = field(default_factory=list)
    fills: list[dict] = field(default_factory=list)
    message: str = ""  # why the chart is empty or partial, in trader words


def chart_strategies(*, instrument_id: int) -> list[Strategy]:
    """The strategies that trade the instrument, active first: the chart's choice of overlays."""
    return list(Strategy.objects.filter(instruments__pk=instrument_id).order_by("-active", "name"))


def price_chart(
    *,
    instrument: Instrument,
    timeframe: str,
    strategy: Strategy | None = None,
    bars: int = DEFAULT_BARS,
    now: datetime | None = None,
) -> PriceChart:
    """The last ``bars`` completed bars of ``instrument`` on ``timeframe`` up to ``now``, with
    ``strategy``'s lines and signals, and every account's fills in the instrument."""
    from strategies.selectors import market_data_source

    if timeframe not in TIMEFRAME_MINUTES:
        raise ValueError(f"unknown timeframe {timeframe!r}: use one of {', '.join(TIMEFRAME_MINUTES)}")
    bars = max(1, min(int(bars), MAX_BARS))
    now = now or timezone.now()
    source = market_data_source()
    chart = PriceChart(instrument=instrument, timeframe=timeframe, strategy=strategy, data_source=source.label)
    # The strategy's lines only on its own timeframe: computed on other bars they are not what it saw.
    runner, warmup = _strategy_runner(strategy if strategy and strategy.timeframe == timeframe else None)
    try:
        frame = source.candles(instrument, timeframe, now, bars + warmup)
    except MarketDataUnavailable as exc:
        chart.message = f"No {timeframe} candles for {instrument}: {exc}"
        return chart
    if frame.empty:
        chart.message = f"No {timeframe} candles for {instrument} yet."
        return chart
    shown = frame.iloc[-bars:]
    starts = [int(ts.timestamp()) for ts in shown.index]
    chart.candles = [
        {"time": t, "open": row.open, "high": row.high, "low": row.low, "close": row.close}
        for t, row in zip(starts, shown.itertuples(index=False), strict=True)
    ]
    if runner is not None:
        chart.lines, chart.message = _strategy_lines(runner, frame, shown_from=len(frame) - len(shown))
    elif strategy is not None and strategy.timeframe != timeframe:
        chart.message = (
            f"{strategy.name}'s lines are drawn on its own timeframe ({strategy.timeframe}); its signals are marked."
        )
    first = shown.index[0].to_pydatetime()
    bars_shown = _Bars(starts=starts, closes=_closes(source.calendar, timeframe, shown.index))
    if strategy is not None:
        chart.signals = _signals(strategy=strategy, instrument=instrument, since=first, bars=bars_shown)
    chart.fills = _fills(instrument=instrument, since=first, bars=bars_shown)
    return chart


@dataclass(frozen=True)
class _Bars:
    """The shown candles' spans in epoch seconds: ``starts[i] <= t < closes[i]``."""

    starts: list[int]
    closes: list[int]

    def of(self, moment: datetime) -> int | None:
        """The start of the shown bar ``moment`` falls in; None outside every shown bar."""
        t = moment.timestamp()
        i = bisect.bisect_right(self.starts, t) - 1
        return self.starts[i] if i >= 0 and t < self.closes[i] else None


def _closes(calendar, timeframe: str, starts) -> list[int]:
    """Each candle's close from the market calendar, not start + a bar length: on NSE the session's
    last 1h bar (15:15-15:30) and the day bar (09:15-15:30) are shorter than their timeframe."""
    bar = timedelta(minutes=TIMEFRAME_MINUTES[timeframe])
    out = []
    for start in starts:
        try:
            close = calendar.bar_close(timeframe, start)
        except ValueError:  # a stored candle off this calendar's sessions: its nominal length
            close = start + bar
        out.append(int(close.timestamp()))
    return out


def _strategy_runner(strategy: Strategy | None):
    if strategy is None:
        return None, 0
    try:
        runner = get_strategy_class(strategy.library_key)(strategy.parameters)
        return runner, runner.warmup_bars
    except Exception:  # an unknown type or bad parameters: the chart still shows prices
        logger.warning("chart: strategy %s cannot be built", strategy.pk, exc_info=True)
        return None, 0


def _strategy_lines(runner, frame, *, shown_from: int) -> tuple[list[dict], str]:
    """The strategy's stop per bar."""
    try:
        result = runner.run(frame)
    except StrategyError as exc:
        return [], f"The strategy's code failed on these candles: {exc}"
    index = [int(ts.timestamp()) for ts in frame.index[shown_from:]]
    series = {"stop": result["stop"].to_numpy()[shown_from:]}
    lines = []
    for name, values in series.items():
        # A bar without a value (flat: no stop) is a gap in the line, not a segment across it.
        points = [
            {"time": t, "value": float(v) if math.isfinite(v) else None} for t, v in zip(index, values, strict=True)
        ]
        lines.append({"name": name, "points": points})
    return lines, ""


def _signals(*, strategy: Strategy, instrument: Instrument, since: datetime, bars: _Bars):
    rows = Signal.objects.filter(strategy=strategy, instrument=instrument, bar_time__gt=since).order_by("bar_time")
    out = []
    for s in rows[:500]:
        # A signal is stamped with its bar's close: it belongs to the shown bar that was open just
        # before then, the one that closed at bar_time on the chart's own timeframe (whatever that
        # bar's length: spans come from the calendar), the bar it closed in on a longer one, the
        # last bar before its close on a shorter one.
        at = bars.of(s.bar_time - _INSTANT)
        if at is None:
            continue
        out.append(
            {
                "id": s.id,
                "time": at,
                "target": s.target,
                "price": float(s.price),
                "stop": float(s.stop_price) if s.stop_price is not None else None,
                "source": s.source,
                "bar_close": timezone.localtime(s.bar_time).isoformat(),
            }
        )
    return out


def _fills(*, instrument: Instrument, since: datetime, bars: _Bars):
    """Every account's fills in the instrument over the shown bars, one marker per bar, account
    and side (quantity summed, price averaged by quantity): a busy instrument has thousands of
    fills a session, more than a chart can show one by one. Read as plain values, newest
    ``MAX_FILLS`` first."""
    until = datetime.fromtimestamp(bars.closes[-1], tz=UTC)
    rows = (
        Fill.objects.filter(order__instrument=instrument, filled_at__gte=since, filled_at__lt=until)
        .order_by("-filled_at", "-id")
        .values_list("filled_at", "account_id", "account__name", "order__side", "quantity", "price")[:MAX_FILLS]
    )
    markers: dict[tuple, dict] = {}
    for filled_at, account_id, account, side, quantity, price in reversed(rows):
        at = bars.of(filled_at)
        if at is None:
            continue
        marker = markers.setdefault(
            (at, account_id, side),
            {"time": at, "account_id": account_id, "account": account, "side": side, "quantity": 0, "value": 0.0},
        )
        marker["quantity"] += quantity
        marker["value"] += float(price) * quantity
        marker["fills"] = marker.get("fills", 0) + 1
    out = []
    for marker in markers.values():
        value = marker.pop("value")
        out.append({**marker, "price": round(value / marker["quantity"], 4)})
    return out
