"""The built-in strategies as they were before the numpy rewrite (interface version 1, pandas),
kept verbatim in substance as the reference the rewrite must match ("targets and stops identical
to today's, ties aside"). Only for tests/strategies/test_same_as_before.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import talib


def _series(values, candles):
    return pd.Series(values, index=candles.index, dtype=np.float64)


def _column(candles, name):
    return candles[name].to_numpy(dtype=np.float64)


def hold_forward(go_long, go_short, ready):
    ready = ready.fillna(False).astype(bool)
    go_long = go_long.fillna(False).astype(bool)
    go_short = go_short.fillna(False).astype(bool)
    events = np.select(
        [~ready.to_numpy(), (go_long & ~go_short).to_numpy(), (go_short & ~go_long).to_numpy()],
        [0.0, 1.0, -1.0],
        default=np.nan,
    )
    return pd.Series(events, index=ready.index).ffill().fillna(0.0).astype(np.int64)


def signal_frame(close, target, stop):
    target = target.astype(np.int64)
    stop = stop.astype(np.float64)
    stop_valid = np.isfinite(stop) & np.isfinite(close) & ((close - stop) * target > 0)
    target = target.where(stop_valid, 0).astype(np.int64)
    stop = stop.where(target != 0, np.nan)
    return pd.DataFrame({"target": target, "stop": stop}, index=close.index)


def atr_signal_frame(candles, go_long, go_short, ready, atr_period, multiple):
    close = candles["close"].astype(np.float64)
    atr = _series(talib.ATR(*(_column(candles, n) for n in ("high", "low", "close")), timeperiod=atr_period), candles)
    ready = ready & np.isfinite(atr) & (atr > 0)
    target = hold_forward(go_long, go_short, ready)
    stop = close - target * multiple * atr
    return signal_frame(close, target, stop)


def crossover(candles, average, fast_period, slow_period, atr_period=14, stop_atr_multiple=2.0):
    close = _column(candles, "close")
    fast = _series(average(close, timeperiod=fast_period), candles)
    slow = _series(average(close, timeperiod=slow_period), candles)
    ready = fast.notna() & slow.notna()
    return atr_signal_frame(candles, fast > slow, fast < slow, ready, atr_period, stop_atr_multiple)


def rsi_threshold(candles, period=14, buy_below=30.0, sell_above=70.0, atr_period=14, stop_atr_multiple=2.0):
    rsi = _series(talib.RSI(_column(candles, "close"), timeperiod=period), candles)
    return atr_signal_frame(candles, rsi < buy_below, rsi > sell_above, rsi.notna(), atr_period, stop_atr_multiple)


def price_threshold(candles, buy_above, sell_below, atr_period=14, stop_atr_multiple=2.0):
    close = candles["close"]
    return atr_signal_frame(
        candles, close > buy_above, close < sell_below, close.notna(), atr_period, stop_atr_multiple
    )


def donchian_breakout(candles, period=20):
    upper = _series(talib.MAX(_column(candles, "high"), timeperiod=period), candles).shift(1)
    lower = _series(talib.MIN(_column(candles, "low"), timeperiod=period), candles).shift(1)
    close = candles["close"].astype("float64")
    target = hold_forward(close > upper, close < lower, upper.notna() & lower.notna())
    stop = lower.where(target > 0, upper.where(target < 0))
    return signal_frame(close, target, stop)


def run(key: str, parameters: dict, candles: pd.DataFrame) -> pd.DataFrame:
    parameters = dict(parameters)
    allow_short = parameters.pop("allow_short", False)
    if key == "sma_crossover":
        result = crossover(candles, talib.SMA, **parameters)
    elif key == "ema_crossover":
        result = crossover(candles, talib.EMA, **parameters)
    elif key == "rsi_threshold":
        result = rsi_threshold(candles, **parameters)
    elif key == "price_threshold":
        result = price_threshold(candles, **parameters)
    else:
        result = donchian_breakout(candles, **parameters)
    if not allow_short:
        short = result["target"] < 0
        result.loc[short, "target"] = 0
        result.loc[short, "stop"] = float("nan")
    return result
