"""The seeded demo replayed on the simulated market from several start times across a day.

A new user's first minutes after Start: every account enters on the first bar, every entry is
sized to its share of the allocation (none refused because an earlier instrument took it all),
and the demo goes on trading.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from execution.demo import demo_seed
from tests.execution.demo_replay import replay_demo

IST = ZoneInfo("Asia/Kolkata")
# Start times spread over a day (the simulated market is open around the clock), off the minute.
STARTS = [datetime(2026, 12, 3, 0, 7, 20, tzinfo=IST) + timedelta(minutes=226 * i) for i in range(6)]
# (strategy, account) pairs of the demo: the 1m strategy on four accounts, 5m and 15m on two, 1h on one
MAPPED_PAIRS = 4 + 2 + 2 + 1
pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(engine_running):
    assert demo_seed().created


@pytest.mark.parametrize("start", STARTS, ids=lambda s: s.strftime("%H%M"))
def test_every_account_enters_on_the_first_bar_and_the_entries_complete(demo, start):
    report = replay_demo(start=start, minutes=0)

    # At Start every strategy, the 1h one too, entered on every account mapped to it.
    assert report.first_bar_pairs == MAPPED_PAIRS
    assert report.first_bar_missing == []
    assert report.first_bar_complete_pct >= 90, (report.first_bar_entries, report.first_bar_blocked)
    # An earlier instrument never takes a later one's capital: each entry gets its share.
    assert not [reason for reason in report.first_bar_blocked if "allocat" in reason]


def test_the_demo_keeps_trading_after_the_first_bar(demo):
    """Several signals per 10 minutes after the entries at Start."""
    start = datetime(2026, 12, 3, 11, 6, 20, tzinfo=IST)
    report = replay_demo(start=start, minutes=10)

    assert report.signals_after_first_bar >= 3
    assert report.first_bar_missing == []
    assert report.first_bar_pairs == MAPPED_PAIRS
