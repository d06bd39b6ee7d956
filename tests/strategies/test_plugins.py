"""The trader's own strategies: the README's example plugin loads and trades through the engine;
a broken plugin is refused with a clear message and stops nothing else."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from execution.engine.bar import run_timeframe
from risk import services as risk_services
from strategies.library import (
    INTERFACE_VERSION,
    StrategyPluginError,
    check_strategy_class,
    get_strategy_class,
    refused_plugins,
    registered_strategies,
)
from strategies.models import Evaluation, Strategy
from strategies.services import strategy_create
from tests.factories import InstrumentFactory

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
IST = ZoneInfo("Asia/Kolkata")
BUILT_IN = {"sma_crossover", "ema_crossover", "rsi_threshold", "price_threshold", "donchian_breakout"}


@pytest.fixture
def plugins(settings, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    settings.STRATEGY_MODULES = [
        "trader_strategies.momentum",
        "trader_strategies.broken",
        "trader_strategies.not_there",
    ]
    return settings


def test_the_example_plugin_loads_and_the_broken_ones_are_refused_by_name(plugins):
    assert "momentum" in registered_strategies()
    assert BUILT_IN <= set(registered_strategies())  # nothing else stopped
    refused = refused_plugins()
    assert "interface version 1; this system runs version 2" in refused["trader_strategies.broken"]
    assert "ModuleNotFoundError" in refused["trader_strategies.not_there"]
    assert "old_style" not in registered_strategies()
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "strategies.W001" in out.getvalue() and "trader_strategies.broken" in out.getvalue()


def test_a_plugin_is_checked_on_load():
    from strategies.library import Strategy

    class NoParameterModel(Strategy):
        key, label, Parameters = "x", "X", dict

    class NoWarmup(Strategy):
        key, label = "y", "Y"

        @property
        def warmup_bars(self):
            return 0

        def compute(self, candles):
            return None

    with pytest.raises(StrategyPluginError, match="Parameters must be a subclass"):
        check_strategy_class(NoParameterModel)
    with pytest.raises(StrategyPluginError, match="warmup_bars must be a whole number"):
        check_strategy_class(NoWarmup)
    assert INTERFACE_VERSION == 2


@pytest.mark.django_db
def test_the_example_plugin_trades_on_the_demo_market_and_a_refused_one_is_named_in_the_ledger(plugins):
    instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
    momentum = strategy_create(
        instruments=[instrument],
        name="My momentum",
        library_key="momentum",
        timeframe="1m",
        parameters={"period": 5, "threshold_pct": 0.1},
        enter_on_first_bar=True,
    )
    refused = Strategy.objects.create(name="Old", library_key="old_style", timeframe="1m")
    refused.instruments.set([instrument])
    risk_services.engine_start(reason="test")
    start = datetime(2026, 11, 20, 10, 0, tzinfo=IST)
    signals = []
    for minute in range(120):
        run = run_timeframe(timeframe="1m", now=start + timedelta(minutes=minute, seconds=2))
        signals += run.signals
        if len(signals) >= 2:
            break
    assert signals and all(s.strategy == momentum for s in signals)
    row = Evaluation.objects.filter(strategy=momentum, outcome="evaluated").first()
    assert set(row.instruments["NSE:INFY"]["indicators"]) == {"roc", "atr"}
    old = Evaluation.objects.filter(strategy=refused).first()
    assert (old.outcome, old.reason_code) == ("skipped", "strategy_error")
    assert "old_style" in old.reason and "interface version 1" in old.reason
    assert get_strategy_class("momentum").label == "Momentum (rate of change)"
