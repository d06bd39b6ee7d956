"""Replay the seeded demo on the simulated market, bar by bar, from any start time.

What `make run` does after Start, without beat and workers: Start evaluates each timeframe's latest
closed bar, then at each bar close the engine's ``run_timeframe`` evaluates that timeframe's
strategies, and each new signal is executed on every account mapped to it (the order path's own
service, with the paper broker). The figures are what a new user would see: the first bar's entries
and how they ended, and the signals that follow.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from execution.engine.bar import run_latest_bars, run_timeframe
from execution.engine.fanout import execute_signal_for_account
from execution.models import AccountStrategy, Order, OrderLeg
from strategies.calendar import TIMEFRAME_MINUTES
from strategies.selectors import market_data_source

# A beat tick arrives a moment after its bar closes.
TICK_DELAY = timedelta(seconds=2)


@dataclass
class ReplayReport:
    start: datetime
    # (strategy, account) pairs mapped and evaluated on their first bar, the one Start evaluates
    first_bar_pairs: int = 0
    # the entry orders of the first bar's signals, by status
    first_bar_entries: Counter = field(default_factory=Counter)
    # (strategy name, account name) pairs whose first bar made no entry
    first_bar_missing: list[tuple[str, str]] = field(default_factory=list)
    first_bar_blocked: list[str] = field(default_factory=list)  # the blocked entries' reasons
    signals_after_first_bar: int = 0
    minutes_after_first_bar: int = 0

    @property
    def first_bar_complete_pct(self) -> float:
        total = sum(self.first_bar_entries.values())
        return 100.0 * self.first_bar_entries["COMPLETE"] / total if total else 0.0


def replay_demo(*, start: datetime, minutes: int = 10) -> ReplayReport:
    """Run the demo (already seeded, engine running) as Start at ``start`` does, then ``minutes`` of
    1m bars. Start evaluates each timeframe's latest closed bar at once (``run_latest_bars``): that
    is each timeframe's "first bar"; beat's ticks follow."""
    calendar = market_data_source().calendar
    report = ReplayReport(start=start)
    mappings = list(AccountStrategy.objects.filter(enabled=True).select_related("account", "strategy"))
    by_strategy: dict[int, list[AccountStrategy]] = {}
    for mapping in mappings:
        by_strategy.setdefault(mapping.strategy_id, []).append(mapping)

    for run in run_latest_bars(now=start):
        _execute(run.signals, by_strategy)
        _count_first_bar(report, timeframe=run.timeframe, bar_close=run.bar_close, by_strategy=by_strategy)

    bar_close = calendar.next_bar_close("1m", start)
    end = bar_close + timedelta(minutes=minutes)
    while bar_close < end:
        for timeframe in TIMEFRAME_MINUTES:
            if calendar.is_bar_close(timeframe, bar_close):
                run = run_timeframe(timeframe=timeframe, now=bar_close + TICK_DELAY)
                _execute(run.signals, by_strategy)
                report.signals_after_first_bar += len(run.signals)
        bar_close += timedelta(minutes=1)
    report.minutes_after_first_bar = minutes
    return report


def _execute(signals, by_strategy: dict[int, list[AccountStrategy]]) -> None:
    for signal in signals:
        for mapping in by_strategy.get(signal.strategy_id, []):
            execute_signal_for_account(signal_id=signal.id, account_id=mapping.account_id)


def _count_first_bar(report: ReplayReport, *, timeframe: str, bar_close: datetime, by_strategy) -> None:
    entries = Order.objects.filter(
        signal__bar_time=bar_close, signal__strategy__timeframe=timeframe, leg=OrderLeg.ENTRY
    ).select_related("account", "strategy")
    entered = set()
    for order in entries:
        order.refresh_from_db()
        report.first_bar_entries[order.status] += 1
        entered.add((order.strategy_id, order.account_id))
        if order.status == "BLOCKED":
            report.first_bar_blocked.append(f"{order.account} {order.instrument}: {order.status_message}")
    for strategy_id, mappings in by_strategy.items():
        for mapping in mappings:
            if mapping.strategy.timeframe != timeframe:
                continue
            report.first_bar_pairs += 1
            if (strategy_id, mapping.account_id) not in entered:
                report.first_bar_missing.append((mapping.strategy.name, mapping.account.name))
