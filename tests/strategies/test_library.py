"""The built-in strategy library on small, hand-built candle series.

Expected bars are worked out by hand in the comments and, where an indicator is involved,
cross-checked against an independent plain-numpy computation.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from strategies.library import (
    Strategy,
    StrategyError,
    StrategyParameterError,
    get_strategy_class,
    registered_strategies,
)
from strategies.library.builtin._common import hold_forward, signal_output

KEYS = {"sma_crossover", "ema_crossover", "rsi_threshold", "price_threshold", "donchian_breakout"}


def make_candles(close, high=None, low=None) -> pd.DataFrame:
    """15-minute bars from 09:15 IST; by default high/low are the close +/- 1."""
    close = np.asarray(close, dtype=np.float64)
    index = pd.date_range("2024-01-01 09:15", periods=len(close), freq="15min", tz="Asia/Kolkata")
    return pd.DataFrame(
        {
            "open": close,
            "high": close + 1.0 if high is None else np.asarray(high, dtype=np.float64),
            "low": close - 1.0 if low is None else np.asarray(low, dtype=np.float64),
            "close": close,
            "volume": np.full(len(close), 1000.0),
        },
        index=index,
    )


def changes(target: pd.Series) -> list[tuple[int, int]]:
    """(bar position, new target) wherever the target differs from the bar before (start: 0)."""
    values = target.to_numpy()
    previous = np.concatenate([[0], values[:-1]])
    return [(int(i), int(values[i])) for i in np.flatnonzero(values != previous)]


# A clear V: 20, 19, ..., 11, 10 (bar 10), 11, ..., 20. With high/low = close +/- 1 every true
# range is exactly 2 (high - low = 2, and |high - previous close| = 2 on a one-point step), so
# the ATR is 2 from its first bar on and a 2-ATR stop lies exactly 4 points from the close.
V_CLOSE = np.abs(np.arange(21) - 10) + 10.0


def reference_sma(values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    sums = np.cumsum(np.concatenate([[0.0], values]))
    out[n - 1 :] = (sums[n:] - sums[:-n]) / n
    return out


def reference_ema(values: np.ndarray, n: int) -> np.ndarray:
    """EMA seeded with the SMA of the first n values (TA-Lib's convention)."""
    out = np.full(len(values), np.nan)
    alpha = 2.0 / (n + 1)
    out[n - 1] = values[:n].mean()
    for i in range(n, len(values)):
        out[i] = alpha * values[i] + (1 - alpha) * out[i - 1]
    return out


def reference_rsi(values: np.ndarray, n: int) -> np.ndarray:
    """Wilder's RSI: simple average of the first n changes, then (prev * (n-1) + new) / n."""
    out = np.full(len(values), np.nan)
    delta = np.diff(values)
    gains, losses = np.clip(delta, 0, None), np.clip(-delta, 0, None)
    avg_gain, avg_loss = gains[:n].mean(), losses[:n].mean()
    for i in range(n, len(values)):
        if i > n:
            avg_gain = (avg_gain * (n - 1) + gains[i - 1]) / n
            avg_loss = (avg_loss * (n - 1) + losses[i - 1]) / n
        out[i] = 100.0 * avg_gain / (avg_gain + avg_loss)
    return out


def first_bar_where(condition: np.ndarray) -> int:
    return int(np.flatnonzero(condition)[0])


# --- crossovers -------------------------------------------------------------------------------


def test_sma_crossover_flips_at_the_bottom_of_the_v():
    candles = make_candles(V_CLOSE)
    strategy = get_strategy_class("sma_crossover")(
        {"fast_period": 3, "slow_period": 6, "atr_period": 3, "allow_short": True}
    )
    result = strategy.run(candles)

    # Bar 12: SMA3 = (10+11+12)/3 = 11.0 < SMA6 = (13+12+11+10+11+12)/6 = 11.5
    # Bar 13: SMA3 = (11+12+13)/3 = 12.0 > SMA6 = (12+11+10+11+12+13)/6 = 11.5
    fast, slow = reference_sma(V_CLOSE, 3), reference_sma(V_CLOSE, 6)
    assert first_bar_where(fast > slow) == 13
    # Slow SMA first defined on bar 5 (warmup 6 bars): short from there, long from bar 13.
    assert strategy.warmup_bars == 6
    assert changes(result["target"]) == [(5, -1), (13, 1)]
    assert result.index[13] == pd.Timestamp("2024-01-01 12:30", tz="Asia/Kolkata")
    assert result["target"].dtype == np.int64

    close = candles["close"]
    assert (result["stop"][result["target"] == -1] == close[result["target"] == -1] + 4.0).all()
    assert (result["stop"][result["target"] == 1] == close[result["target"] == 1] - 4.0).all()
    assert result["stop"].iloc[:5].isna().all()


def test_sma_crossover_long_only_zeroes_the_short_leg():
    strategy = get_strategy_class("sma_crossover")({"fast_period": 3, "slow_period": 6, "atr_period": 3})
    result = strategy.run(make_candles(V_CLOSE))
    assert changes(result["target"]) == [(13, 1)]
    assert result["stop"].iloc[:13].isna().all()
    assert result["stop"].iloc[13:].notna().all()


def test_ema_crossover_flips_one_bar_later_than_the_sma():
    candles = make_candles(V_CLOSE)
    strategy = get_strategy_class("ema_crossover")(
        {"fast_period": 3, "slow_period": 6, "atr_period": 3, "allow_short": True}
    )
    result = strategy.run(candles)

    # EMA3 - EMA6 is about -0.07 on bar 13 and +0.32 on bar 14.
    fast, slow = reference_ema(V_CLOSE, 3), reference_ema(V_CLOSE, 6)
    assert first_bar_where(fast > slow) == 14
    assert fast[13] < slow[13]
    assert strategy.warmup_bars == 6
    assert changes(result["target"]) == [(5, -1), (14, 1)]
    assert result["stop"].iloc[14] == V_CLOSE[14] - 4.0
    assert result["stop"].iloc[13] == V_CLOSE[13] + 4.0


# --- RSI threshold ----------------------------------------------------------------------------

# Up five bars, down five, up six. RSI(3), Wilder: bars 3-4 are 100 (only gains); then
# 66.7, 44.4, 29.6 (bar 7: gain 8/27, loss 19/27), 19.8, 13.2, then up: 42.1, 61.4, 74.3 (bar 12).
RSI_CLOSE = np.array([10, 11, 12, 13, 14, 13, 12, 11, 10, 9, 10, 11, 12, 13, 14, 15], dtype=np.float64)


def test_rsi_threshold_buys_oversold_sells_overbought_and_holds_between():
    strategy = get_strategy_class("rsi_threshold")({"period": 3, "atr_period": 3, "allow_short": True})
    result = strategy.run(make_candles(RSI_CLOSE))

    rsi = reference_rsi(RSI_CLOSE, 3)
    assert rsi[7] == pytest.approx(100 * 8 / 27)
    assert first_bar_where(rsi < 30) == 7
    assert first_bar_where((rsi > 70) & (np.arange(len(rsi)) > 7)) == 12
    assert 30 < rsi[10] < 70 and 30 < rsi[11] < 70  # bars 10-11: between, the long holds

    assert strategy.warmup_bars == 4
    assert changes(result["target"]) == [(3, -1), (7, 1), (12, -1)]


def test_rsi_threshold_long_only_sells_to_flat():
    strategy = get_strategy_class("rsi_threshold")({"period": 3, "atr_period": 3})
    result = strategy.run(make_candles(RSI_CLOSE))
    assert changes(result["target"]) == [(7, 1), (12, 0)]
    assert (result["stop"].iloc[7:12] < RSI_CLOSE[7:12]).all()


# --- price threshold --------------------------------------------------------------------------


def test_price_threshold_levels_hold_and_warmup():
    close = [100, 106, 102, 103, 104, 106, 104, 100, 96, 94, 97, 100, 106]
    strategy = get_strategy_class("price_threshold")(
        {"buy_above": Decimal("105"), "sell_below": "95", "atr_period": 3, "allow_short": True}
    )
    result = strategy.run(make_candles(close))
    # Bar 1 closes above 105 but the ATR(3) is not defined before bar 3: no position, and
    # nothing carries over, so bars 3-4 (between the levels) stay flat. Long on bar 5 (106),
    # short on bar 9 (94 < 95), long again on bar 12.
    assert strategy.warmup_bars == 4
    assert changes(result["target"]) == [(5, 1), (9, -1), (12, 1)]
    assert result["stop"].iloc[5] < 106 and result["stop"].iloc[9] > 94


def test_price_threshold_equal_levels_are_allowed():
    params = get_strategy_class("price_threshold").validate_parameters({"buy_above": 100, "sell_below": 100})
    assert params["buy_above"] == params["sell_below"] == 100.0


def test_zero_atr_means_no_position():
    # Flat bars (high = low = close): the ATR is 0, so no stop can be placed and no target given.
    candles = make_candles([110.0] * 10, high=[110.0] * 10, low=[110.0] * 10)
    strategy = get_strategy_class("price_threshold")({"buy_above": 105, "sell_below": 100, "atr_period": 3})
    result = strategy.run(candles)
    assert (result["target"] == 0).all()
    assert result["stop"].isna().all()


# --- Donchian breakout ------------------------------------------------------------------------


def test_donchian_breakout_entries_and_channel_stops():
    close = np.array([10, 10, 10, 10, 12, 11, 11, 11, 7, 8, 8, 13], dtype=np.float64)
    strategy = get_strategy_class("donchian_breakout")({"period": 3, "allow_short": True})
    result = strategy.run(make_candles(close))

    # Channel of the 3 bars before (high/low = close +/- 1):
    # bar 3: [9, 11], close 10 -> flat.  bar 4: [9, 11], close 12 -> long, stop 9.
    # bar 5: [9, 13], bar 6: [9, 13], bar 7: [10, 13] -> hold long, stops 9, 9, 10.
    # bar 8: [10, 12], close 7 -> short, stop 12.  bars 9-10: [6, 12] -> hold short, stop 12.
    # bar 11: [6, 9], close 13 -> long, stop 6.
    assert strategy.warmup_bars == 4
    assert changes(result["target"]) == [(4, 1), (8, -1), (11, 1)]
    expected_stop = [np.nan] * 4 + [9, 9, 9, 10, 12, 12, 12, 6]
    np.testing.assert_array_equal(result["stop"].to_numpy(), np.array(expected_stop))


def test_donchian_breakout_long_only():
    close = np.array([10, 10, 10, 10, 12, 11, 11, 11, 7, 8, 8, 13], dtype=np.float64)
    result = get_strategy_class("donchian_breakout")({"period": 3}).run(make_candles(close))
    assert changes(result["target"]) == [(4, 1), (8, 0), (11, 1)]


# --- contract on every strategy ---------------------------------------------------------------

PARAMS = {
    "sma_crossover": {},
    "ema_crossover": {},
    "rsi_threshold": {},
    "price_threshold": {"buy_above": 80.0, "sell_below": 70.0},  # the walk crosses both
    "donchian_breakout": {},
}


def random_walk(n: int = 400, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    close = 100.0 + np.cumsum(rng.normal(0, 1, n))
    spread = rng.uniform(0.1, 1.5, n)
    return make_candles(close, high=close + spread, low=close - spread[::-1])


@pytest.mark.parametrize("key", sorted(KEYS))
@pytest.mark.parametrize("allow_short", [True, False])
def test_output_contract(key, allow_short):
    candles = random_walk()
    strategy = get_strategy_class(key)({**PARAMS[key], "allow_short": allow_short})
    result = strategy.run(candles)

    assert list(result.columns) == ["target", "stop"]
    assert result.index.equals(candles.index)
    assert result["target"].dtype == np.int64
    assert result["stop"].dtype == np.float64
    allowed = {-1, 0, 1} if allow_short else {0, 1}
    assert set(result["target"].unique()) <= allowed
    assert set(result["target"].unique()) - {0}, "the random walk should trigger some position"

    target, stop, close = result["target"], result["stop"], candles["close"]
    assert stop[target == 0].isna().all()
    assert (stop[target == 1] < close[target == 1]).all()
    assert (stop[target == -1] > close[target == -1]).all()
    # Before warmup: flat.
    assert (target.iloc[: strategy.warmup_bars - 1] == 0).all()


@pytest.mark.parametrize("key", sorted(KEYS))
def test_too_little_history_is_flat(key):
    strategy = get_strategy_class(key)({**PARAMS[key], "allow_short": True})
    candles = random_walk(n=strategy.warmup_bars - 1)
    result = strategy.run(candles)
    assert (result["target"] == 0).all() and result["stop"].isna().all()
    assert len(strategy.run(candles.iloc[:0])) == 0


def test_stop_must_lie_strictly_on_the_losing_side():
    index = pd.date_range("2024-01-01 09:15", periods=4, freq="15min", tz="Asia/Kolkata")
    close = pd.Series([100.0, 100.0, 100.0, 100.0], index=index)
    target = pd.Series([1, 1, -1, -1], index=index)
    stop = pd.Series([99.0, 100.0, 100.0, np.nan], index=index)  # only the first one is valid
    result = signal_output(close, target, stop)
    assert result.target.tolist() == [1, 0, 0, 0]
    assert result.stop[0] == 99.0 and np.isnan(result.stop[1:]).all()


def test_hold_forward_holds_and_restarts_after_not_ready():
    idx = pd.RangeIndex(7)
    go_long = pd.Series([True, False, False, False, False, True, False], index=idx)
    go_short = pd.Series([False, False, True, False, False, False, False], index=idx)
    ready = pd.Series([False, True, True, True, False, True, True], index=idx)
    assert hold_forward(go_long, go_short, ready).tolist() == [0, 0, -1, -1, 0, 1, 1]


# --- parameters -------------------------------------------------------------------------------


def test_registry_lists_all_five():
    assert set(registered_strategies()) >= KEYS
    for key in KEYS:
        cls = get_strategy_class(key)
        assert cls.key == key and cls.label and cls.description


def test_validate_parameters_fills_defaults():
    assert get_strategy_class("sma_crossover").validate_parameters({}) == {
        "allow_short": False,
        "atr_period": 14,
        "stop_atr_multiple": 2.0,
        "fast_period": 5,
        "slow_period": 20,
    }
    ema = get_strategy_class("ema_crossover").validate_parameters({"allow_short": True})
    assert (ema["fast_period"], ema["slow_period"], ema["allow_short"]) == (9, 21, True)
    rsi = get_strategy_class("rsi_threshold").validate_parameters({})
    assert (rsi["period"], rsi["buy_below"], rsi["sell_above"]) == (14, 30.0, 70.0)
    assert get_strategy_class("donchian_breakout").validate_parameters({}) == {
        "allow_short": False,
        "period": 20,
    }
    price = get_strategy_class("price_threshold").validate_parameters(
        {"buy_above": Decimal("2500.50"), "sell_below": "2450.25"}
    )
    assert (price["buy_above"], price["sell_below"], price["atr_period"]) == (2500.5, 2450.25, 14)
    assert "buy_above" not in get_strategy_class("price_threshold").default_parameters()


@pytest.mark.parametrize(
    ("key", "params", "named"),
    [
        ("sma_crossover", {"bogus": 1}, ["bogus"]),
        ("sma_crossover", {"fast_period": 20, "slow_period": 20}, ["fast_period", "slow_period"]),
        ("ema_crossover", {"fast_period": 30}, ["fast_period", "slow_period"]),
        ("sma_crossover", {"slow_period": -5}, ["slow_period"]),
        ("sma_crossover", {"atr_period": 0}, ["atr_period"]),
        ("sma_crossover", {"stop_atr_multiple": 0}, ["stop_atr_multiple"]),
        ("rsi_threshold", {"period": -1}, ["period"]),
        ("rsi_threshold", {"buy_below": 70, "sell_above": 30}, ["buy_below", "sell_above"]),
        ("rsi_threshold", {"sell_above": 120}, ["sell_above"]),
        ("price_threshold", {"buy_above": 100}, ["sell_below"]),
        ("price_threshold", {"buy_above": 100, "sell_below": 101}, ["buy_above", "sell_below"]),
        ("price_threshold", {"buy_above": -1, "sell_below": -2}, ["buy_above", "sell_below"]),
        ("donchian_breakout", {"period": 1}, ["period"]),
        ("donchian_breakout", {"period": "abc"}, ["period"]),
    ],
)
def test_bad_parameters_raise_with_field_names(key, params, named):
    cls = get_strategy_class(key)
    with pytest.raises(StrategyParameterError) as excinfo:
        cls.validate_parameters(params)
    for field in named:
        assert field in str(excinfo.value)
    with pytest.raises(StrategyParameterError):
        cls(params)


def test_parameters_are_frozen():
    strategy = get_strategy_class("sma_crossover")({})
    with pytest.raises(ValueError, match="frozen"):
        strategy.params.fast_period = 2


# --- error isolation --------------------------------------------------------------------------


class Exploding(Strategy):
    key = "exploding"
    label = "Exploding"

    @property
    def warmup_bars(self) -> int:
        return 1

    def compute(self, candles):
        return 1 / 0


def test_exception_inside_compute_becomes_strategy_error():
    with pytest.raises(StrategyError, match="exploding: ZeroDivisionError"):
        Exploding().run(make_candles(V_CLOSE))


def test_missing_columns_is_strategy_error():
    with pytest.raises(StrategyError, match="volume"):
        get_strategy_class("sma_crossover")().run(make_candles(V_CLOSE).drop(columns="volume"))
