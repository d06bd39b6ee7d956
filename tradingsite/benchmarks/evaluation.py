"""Strategy evaluation benchmark: wall and CPU time per bar, cold and warm, on both sources.

One 1m bar of N instruments under five strategies (the five built-in types, each with a 200-bar
look-back: a 150-bar warm-up plus the 50 bars the evaluation adds), evaluated and written to the
ledger the way the engine's bar does it. "Cold" is the first bar on a fresh market-data source
(empty caches) and a fresh pool of evaluation processes; "warm" the mean of the bars after it.
CPU counts this process and the evaluation processes it uses.

Only run it on a database made for it (the command makes a throwaway one).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

LOOKBACK_BARS = 200
TIMEFRAME = "1m"
STRATEGY_SPECS = [
    ("sma_crossover", {"fast_period": 50, "slow_period": 150}),
    ("ema_crossover", {"fast_period": 50, "slow_period": 150}),
    ("rsi_threshold", {"period": 149}),
    ("donchian_breakout", {"period": 149}),
    ("price_threshold", {"buy_above": 1000, "sell_below": 900, "atr_period": 149}),
]


@dataclass
class BarTiming:
    source: str
    instruments: int
    strategies: int
    cold_wall: float
    cold_cpu: float
    warm_wall: float
    warm_cpu: float


def build_universe(*, instruments: int, prefix: str = "EVB") -> list:
    """``instruments`` instruments and one strategy of each built-in type trading all of them."""
    from django.db.models import Max

    from strategies.models import Instrument, Strategy

    first = max(Instrument.objects.aggregate(top=Max("instrument_token"))["top"] or 0, 9_000_000) + 1
    made = Instrument.objects.bulk_create(
        Instrument(
            instrument_token=first + i,
            exchange="NSE",
            tradingsymbol=f"{prefix}{instruments}X{i:04d}",
            segment="NSE",
            tick_size=Decimal("0.05"),
        )
        for i in range(instruments)
    )
    strategies = []
    for key, parameters in STRATEGY_SPECS:
        strategy = Strategy.objects.create(
            name=f"{prefix} {instruments} {key}", library_key=key, timeframe=TIMEFRAME, parameters=parameters
        )
        Strategy.instruments.through.objects.bulk_create(
            Strategy.instruments.through(strategy_id=strategy.pk, instrument_id=i.pk) for i in made
        )
        strategies.append(strategy)
    return strategies


def store_candles(*, strategies: list, last_close: datetime, count: int, calendar) -> int:
    """Copy the simulated market's 1m candles of every instrument (the ``count`` bars up to
    ``last_close``) into stored candles; returns how many."""
    from strategies.marketdata import SimulatedMarketData
    from strategies.models import Candle

    source = SimulatedMarketData(calendar=calendar)
    instruments = {i.pk: i for s in strategies for i in s.instruments.all()}
    rows = []
    for instrument in instruments.values():
        frame = source.candles(instrument, TIMEFRAME, last_close, count)
        for start, o, h, low, c, v in frame.itertuples():
            rows.append(
                Candle(
                    instrument=instrument,
                    timeframe=TIMEFRAME,
                    start=start,
                    open=Decimal(f"{o:.2f}"),
                    high=Decimal(f"{h:.2f}"),
                    low=Decimal(f"{low:.2f}"),
                    close=Decimal(f"{c:.2f}"),
                    volume=int(v),
                )
            )
    Candle.objects.bulk_create(rows, batch_size=5000)
    return len(rows)


def evaluate_and_record(*, strategy_ids: list[int], bar_close: datetime, source) -> None:
    """The evaluation side of the engine's bar: strategies read, evaluated, the ledger written."""
    from strategies import services
    from strategies.models import Strategy

    strategies = list(Strategy.objects.filter(pk__in=strategy_ids))
    report = services.evaluate_timeframe(strategies=strategies, timeframe=TIMEFRAME, bar_close=bar_close, source=source)
    services.evaluations_record(report=report, timeframe=TIMEFRAME, bar_close=bar_close, signals_made={})


def measure(
    *,
    label: str,
    strategies: list,
    make_source: Callable[[], object],
    first_close: datetime,
    warm_bars: int,
    evaluate: Callable[..., None] = evaluate_and_record,
) -> BarTiming:
    from strategies import parallel

    ids = [s.pk for s in strategies]
    parallel.shutdown()  # cold: no evaluation processes yet
    source = make_source()
    walls, cpus = [], []
    for bar in range(warm_bars + 1):
        bar_close = first_close + timedelta(minutes=bar)
        cpu_before, children_before = time.process_time(), parallel.children_cpu_seconds()
        started = time.perf_counter()
        evaluate(strategy_ids=ids, bar_close=bar_close, source=source)
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu_before + parallel.children_cpu_seconds() - children_before)
    instruments = len({i.pk for s in strategies for i in s.instruments.all()})
    return BarTiming(
        source=label,
        instruments=instruments,
        strategies=len(strategies),
        cold_wall=walls[0],
        cold_cpu=cpus[0],
        warm_wall=statistics.mean(walls[1:]),
        warm_cpu=statistics.mean(cpus[1:]),
    )
