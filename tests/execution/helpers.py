from datetime import datetime, timedelta

import pytest

from strategies.library import get_strategy_class
from strategies.selectors import market_data_source


def first_bar_with_new_target(strategy, instrument, start: datetime) -> tuple[datetime, int]:
    """Scan 1m bar closes from ``start`` for the first where the strategy's target changes.

    Computed here straight from the library on the simulated candles: the expectation the
    engine's own run is checked against.
    """
    runner = get_strategy_class(strategy.library_key)(strategy.parameters)
    source = market_data_source()
    for minute in range(600):
        bar_close = start + timedelta(minutes=minute)
        candles = source.candles(instrument, "1m", bar_close, runner.warmup_bars + 50)
        targets = runner.run(candles)["target"]
        if targets.iloc[-1] != targets.iloc[-2]:
            return bar_close, int(targets.iloc[-1])
    pytest.fail("no crossover in 600 simulated minutes")
