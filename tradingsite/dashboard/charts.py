"""The price chart of an instrument: a page, and the JSON it draws (behind the same login)."""

from __future__ import annotations

import bisect
import statistics
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from execution import selectors as execution_selectors
from strategies import selectors as strategy_selectors
from strategies.calendar import TIMEFRAME_MINUTES
from strategies.models import Instrument, Timeframe

from .access import viewer_required
from .forms import ChartQueryForm


def chart_url(*, instrument_id: int, strategy=None, timeframe: str | None = None) -> str:
    """The chart page of an instrument, with a strategy's overlays and timeframe when given."""
    query = {}
    if strategy is not None:
        query["strategy"] = strategy.id
        query["timeframe"] = timeframe or strategy.timeframe
    elif timeframe:
        query["timeframe"] = timeframe
    url = reverse("dashboard:chart", args=[instrument_id])
    return f"{url}?{urlencode(query)}" if query else url


def _query(request: HttpRequest, instrument: Instrument) -> ChartQueryForm:
    strategies = execution_selectors.chart_strategies(instrument_id=instrument.id)
    form = ChartQueryForm(request.GET, strategies=strategies)
    form.is_valid()
    return form


@viewer_required
def chart(request: HttpRequest, instrument_id: int) -> HttpResponse:
    instrument = get_object_or_404(Instrument, pk=instrument_id)
    form = _query(request, instrument)
    status = 200 if form.is_valid() else 400
    data = form.cleaned_data if status == 200 else form.defaults()
    query = {
        "timeframe": data["timeframe"],
        "strategy": data["strategy"].id if data["strategy"] else "",
        "bars": data["bars"],
    }
    context = {
        "instrument": instrument,
        "timeframe": data["timeframe"],
        "strategy": data["strategy"],
        "bars": data["bars"],
        "strategies": form.strategies,
        "timeframes": Timeframe.choices,
        "form": form,
        "data_url": reverse("dashboard:chart-data", args=[instrument.id]) + "?" + urlencode(query),
        "states_url": reverse("dashboard:chart-states", args=[instrument.id]),
        "states": strategy_selectors.instrument_strategy_states(instrument_id=instrument.id),
    }
    return render(request, "dashboard/chart.html", context, status=status)


@viewer_required
def chart_states(request: HttpRequest, instrument_id: int) -> HttpResponse:
    """The panel under the chart: each strategy trading the instrument, what it wants there and why."""
    instrument = get_object_or_404(Instrument, pk=instrument_id)
    context = {
        "instrument": instrument,
        "states_url": reverse("dashboard:chart-states", args=[instrument.id]),
        "states": strategy_selectors.instrument_strategy_states(instrument_id=instrument.id),
    }
    return render(request, "dashboard/partials/chart_states.html", context)


@viewer_required
def chart_data(request: HttpRequest, instrument_id: int) -> JsonResponse:
    """Candles, lines, signals and fills. Figures are floats here: they are drawn, never computed with."""
    instrument = get_object_or_404(Instrument, pk=instrument_id)
    form = _query(request, instrument)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors.get_json_data()}, status=400)
    data = form.cleaned_data
    drawn = execution_selectors.price_chart(
        instrument=instrument, timeframe=data["timeframe"], strategy=data["strategy"], bars=data["bars"]
    )
    if drawn.strategy is not None and drawn.strategy.timeframe == drawn.timeframe and drawn.candles:
        drawn.lines += _ledger_lines(drawn)
    return JsonResponse(
        {
            "generated_at": timezone.now().isoformat(),
            "instrument": {"id": instrument.id, "symbol": instrument.kite_symbol},
            "timeframe": drawn.timeframe,
            "strategy": {"id": drawn.strategy.id, "name": drawn.strategy.name} if drawn.strategy else None,
            "data_source": drawn.data_source,
            "candles": drawn.candles,
            "lines": drawn.lines,
            "signals": drawn.signals,
            "fills": drawn.fills,
            "message": drawn.message,
        }
    )


def _ledger_lines(drawn) -> list[dict]:
    """The strategy's indicator values over the shown bars, as it decided on them: read from its
    evaluation ledger (the same figures as its state), one line per indicator, a gap on each bar
    it did not evaluate."""
    starts = [c["time"] for c in drawn.candles]
    bar = timedelta(minutes=TIMEFRAME_MINUTES[drawn.timeframe])
    first = datetime.fromtimestamp(starts[0], tz=UTC)
    last_close = datetime.fromtimestamp(starts[-1], tz=UTC) + bar
    values = strategy_selectors.ledger_indicator_values(
        strategy_id=drawn.strategy.id, symbol=drawn.instrument.kite_symbol, since=first, until=last_close
    )
    by_start: dict[int, dict] = {}
    for bar_close, indicators in values:
        # A bar's row is stamped with its close: it belongs to the shown bar that was open just before.
        i = bisect.bisect_left(starts, int(bar_close.timestamp())) - 1
        if i >= 0:
            by_start[starts[i]] = indicators
    names = list(dict.fromkeys(name for indicators in by_start.values() for name in indicators))
    price_level = statistics.median(c["close"] for c in drawn.candles)
    lines = []
    for name in names:
        points = [{"time": t, "value": by_start.get(t, {}).get(name)} for t in starts]
        values = [abs(p["value"]) for p in points if p["value"] is not None]
        # A moving average or a channel is at the price's level and is drawn over the candles; an
        # oscillator or a distance (RSI, ATR) would flatten them and gets a pane of its own below.
        over_price = bool(values) and 0.5 <= statistics.median(values) / price_level <= 2
        lines.append({"name": name, "points": points, "pane": 0 if over_price else 1})
    return lines
