"""The level-triggered rule: does a strategy's desired target on an instrument become a signal?

On each evaluated bar the desired target is compared with what the strategy *last signalled* on the
instrument, not with its target on the bar before. A change on a bar that was not evaluated (late
tick, stopped engine, missing data) is therefore caught up on the next evaluated bar, if the bar it
changed on lies inside the catch-up window (EVALUATION_CATCH_UP_WINDOW: the same trading session by
default). Outside the window the change is recorded in the ledger as not signalled, with its
reason. A strategy that has never signalled on an instrument waits for a change seen since it was
first evaluated, unless ``enter_on_first_bar`` is on.

A signal made on the instrument after the desired target took its value (an operator's manual
signal, a webhook alert) overrides it: the strategy waits for its next change rather than undoing
the override on the next bar as if it were a missed change. "After" is by when each was decided:
the change at its bar's close, the operator's signal at its bar time. So a manual signal sent a
second after a bar closed, before the tick evaluated that bar, overrides a change on that very bar
(the operator acted last); one made while the tick is already evaluating may come after the
strategy's signal instead, and then the accounts follow the strategy's (what was last signalled is
the last signal made, see strategies/selectors.py ``last_signalled_targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..calendar import MarketCalendar

# In the ledger's note of an instrument whose strategy was overridden (the state page's verdict reads it).
OVERRIDDEN_NOTE = "since before its last signal"


@dataclass(frozen=True)
class Decision:
    signal: bool
    note: str = ""
    outside_window: bool = False
    caught_up: bool = False  # the change happened on an earlier bar that was not evaluated


def decide(
    *,
    desired: int,
    changed_ns: int | None,
    last_ns: int,
    last_signalled: int | None,
    enter_on_first_bar: bool,
    first_counted_ns: int,
    window_start_ns: int,
    overridden: bool = False,
) -> Decision:
    """Level-triggered: does the desired target on the bar starting ``last_ns`` become a signal?

    ``changed_ns``: start of the bar the desired target took its value on (None: on or before the
    first candle of the look-back, so when is unknown). Bars starting at or after
    ``window_start_ns`` are inside the catch-up window; ``first_counted_ns`` is the start of the
    strategy's first evaluated bar (for a strategy that never signalled on the instrument, only
    changes from there count). ``overridden``: the last signal, a manual one or an alert, was made
    at or after the close of the bar the desired target took its value on, so it is not a change
    this strategy missed.
    """
    if last_signalled is None:
        if desired == 0:
            return Decision(False, note="flat; nothing signalled yet")
        if enter_on_first_bar:
            return Decision(True, note="enters on its first bar (enter_on_first_bar)")
        if changed_ns is None or changed_ns < first_counted_ns:
            return Decision(False, note=f"holds {desired:+d} from before it was evaluated: waits for a change")
    elif desired == last_signalled:
        return Decision(False, note=f"holds {desired:+d}, as last signalled")
    elif overridden:
        return Decision(False, note=f"wants {desired:+d} {OVERRIDDEN_NOTE} ({last_signalled:+d}): waits for a change")
    if changed_ns is None or changed_ns < window_start_ns:
        return Decision(False, outside_window=True)
    if changed_ns == last_ns:
        return Decision(True, note="changed on this bar")
    return Decision(True, note="changed on an earlier bar that was not evaluated: caught up", caught_up=True)


def catch_up_window_start(calendar: MarketCalendar, timeframe: str, bar_close: datetime, window: str) -> datetime:
    """Start of the first bar inside the catch-up window: the session's open, or ``window`` minutes back."""
    if window == "session":
        opens, _ = calendar.session_bounds(calendar.session_date_of_close(bar_close))
        return opens
    return bar_close - timedelta(minutes=int(window)) - calendar.bar_length(timeframe)
