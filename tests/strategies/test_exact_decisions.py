"""Exact decisions: ties between prices and indicators hold, whatever floating-point residue says.

Prices are multiples of the tick, so averages of them are often exactly equal. The expectations
here are computed in exact integer (tick) or rational arithmetic, independent of TA-Lib.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
import talib

from strategies.library import TOLERANCE, get_strategy_class

TICK = Fraction(1, 20)  # 0.05


def tick_candles(ticks: np.ndarray) -> pd.DataFrame:
    """Candles whose closes are ``ticks`` x 0.05 (as the market data gives them: rounded floats)."""
    close = np.round(ticks * 0.05, 2)
    index = pd.date_range("2026-01-01 09:15", periods=len(ticks), freq="1min", tz="Asia/Kolkata")
    return pd.DataFrame(
        {"open": close, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 1000.0}, index=index
    )


def exact_hold_forward(long_events, short_events, ready) -> list[int]:
    target, out = 0, []
    for go_long, go_short, is_ready in zip(long_events, short_events, ready, strict=True):
        if not is_ready:
            target = 0
        elif go_long and not go_short:
            target = 1
        elif go_short and not go_long:
            target = -1
        out.append(target)
    return out


def tick_walk(n: int, seed: int) -> np.ndarray:
    """A walk of whole ticks around 1,500 rupees, moving 0 or 1 tick a bar: many exact ties."""
    rng = np.random.default_rng(seed)
    return 30_000 + np.cumsum(rng.choice([-1, 0, 1], size=n))


def test_sma_crossover_holds_at_every_exact_tie():
    fast_n, slow_n, n = 5, 20, 20_000
    ticks = tick_walk(n, seed=3)
    strategy = get_strategy_class("sma_crossover")({"fast_period": fast_n, "slow_period": slow_n, "allow_short": True})
    result = strategy.run(tick_candles(ticks))

    # Exact: compare the sums in whole ticks, scaled to the same count of bars.
    sums = np.concatenate([[0], np.cumsum(ticks)])
    fast_x = np.zeros(n, dtype=np.int64)
    slow_x = np.zeros(n, dtype=np.int64)
    fast_x[fast_n - 1 :] = (sums[fast_n:] - sums[:-fast_n]) * slow_n
    slow_x[slow_n - 1 :] = (sums[slow_n:] - sums[:-slow_n]) * fast_n
    ready = np.arange(n) >= slow_n - 1  # the ATR(14) is ready earlier, the high-low range is never 0
    expected = exact_hold_forward(fast_x > slow_x, fast_x < slow_x, ready)

    ties = int((ready & (fast_x == slow_x)).sum())
    assert ties > 100, "the walk should hold many exact ties"
    # TA-Lib's running sums do leave residue at some of them: a plain ">" would flip there.
    fast, slow = (
        talib.SMA(tick_candles(ticks)["close"].to_numpy(), fast_n),
        talib.SMA(tick_candles(ticks)["close"].to_numpy(), slow_n),
    )
    residue = np.abs(fast - slow)[ready & (fast_x == slow_x)]
    assert (residue > 0).any() and residue.max() < TOLERANCE / 1000
    assert result["target"].tolist() == expected


def exact_rsi(closes: list[Fraction], n: int) -> list[Fraction | None]:
    """Wilder's RSI in exact arithmetic (TA-Lib's seeding: the mean of the first n changes; 0
    where nothing moved)."""
    out: list[Fraction | None] = [None] * len(closes)
    changes = [b - a for a, b in zip(closes, closes[1:], strict=False)]
    gain = sum(max(c, 0) for c in changes[:n]) / n
    loss = sum(max(-c, 0) for c in changes[:n]) / n
    out[n] = 100 * gain / (gain + loss) if gain + loss else Fraction(0)
    for i in range(n + 1, len(closes)):
        change = changes[i - 1]
        gain = (gain * (n - 1) + max(change, 0)) / n
        loss = (loss * (n - 1) + max(-change, 0)) / n
        out[i] = 100 * gain / (gain + loss) if gain + loss else Fraction(0)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_rsi_threshold_an_rsi_exactly_at_a_level_does_not_cross_it(seed):
    period, buy_below, sell_above = 3, 30.0, 70.0
    # Moves of 3 up and 7 down ticks (and back, or none): the RSI often lands exactly on 30 or 70.
    rng = np.random.default_rng(seed)
    moves = rng.choice([3, -7, 7, -3, 0], size=60)
    ticks = 20_000 + np.concatenate([[0], np.cumsum(moves)])
    strategy = get_strategy_class("rsi_threshold")(
        {"period": period, "buy_below": buy_below, "sell_above": sell_above, "atr_period": 3, "allow_short": True}
    )
    result = strategy.run(tick_candles(ticks))

    rsi = exact_rsi([TICK * int(t) for t in ticks], period)
    ready = [r is not None for r in rsi]
    expected = exact_hold_forward(
        [r is not None and r < buy_below for r in rsi], [r is not None and r > sell_above for r in rsi], ready
    )
    assert result["target"].tolist() == expected


def test_an_rsi_exactly_at_30_or_70_holds_at_every_price_level():
    # Changes of +3, -7, 0 ticks make RSI(3) exactly 30 on bar 3 (and -3, +7, 0 exactly 70), at
    # any price level; TA-Lib's float answer misses 30 or 70 by residue at some of them.
    strategy = get_strategy_class("rsi_threshold")({"period": 3, "atr_period": 3, "allow_short": True})
    residues = []
    for base in range(2_000, 60_000, 997):
        for moves in ([3, -7, 0], [-3, 7, 0]):
            ticks = base + np.concatenate([[0], np.cumsum(moves)])
            candles = tick_candles(ticks)
            assert exact_rsi([TICK * int(t) for t in ticks], 3)[3] in (30, 70)
            residues.append(abs(talib.RSI(candles["close"].to_numpy(), 3)[3] - (30 if moves[0] > 0 else 70)))
            assert strategy.run(candles)["target"].iloc[3] == 0, f"a tie at {base} ticks crossed"
    assert max(residues) > 0


def test_a_close_exactly_at_the_channel_edge_is_no_breakout():
    # Channel of the 3 bars before. Bar 3 closes exactly at the upper edge (the highest high of
    # bars 0-2), bar 4 one tick above the edge of bars 1-3.
    close = np.array([100.0, 100.0, 100.0, 100.5, 100.55])
    high = np.array([100.5, 100.5, 100.5, 100.5, 100.55])
    index = pd.date_range("2026-01-01 09:15", periods=len(close), freq="1min", tz="Asia/Kolkata")
    candles = pd.DataFrame(
        {"open": close, "high": high, "low": close - 0.5, "close": close, "volume": 1.0}, index=index
    )
    result = get_strategy_class("donchian_breakout")({"period": 3}).run(candles)
    assert result["target"].tolist() == [0, 0, 0, 0, 1]


def test_a_close_exactly_at_a_price_level_does_not_cross_it():
    close = np.round(np.array([2001, 2001, 2001, 2001, 2002, 1999, 1998]) * 0.05, 2)  # 100.05 ... 99.9
    index = pd.date_range("2026-01-01 09:15", periods=len(close), freq="1min", tz="Asia/Kolkata")
    candles = pd.DataFrame(
        {"open": close, "high": close + 0.5, "low": close - 0.5, "close": close, "volume": 1.0}, index=index
    )
    strategy = get_strategy_class("price_threshold")(
        {"buy_above": "100.05", "sell_below": "99.95", "atr_period": 2, "allow_short": True}
    )
    # 100.05 equals the level (no entry), 100.10 is above it; 99.95 equals the sell level, 99.90 is below.
    assert strategy.run(candles)["target"].tolist() == [0, 0, 0, 0, 1, 1, -1]
