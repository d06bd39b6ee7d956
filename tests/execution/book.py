"""Building a book of positions through the real pipeline (paper accounts, simulated prices)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

from django.utils import timezone

from execution.engine.fanout import execute_signal_for_account
from execution.engine.signals import signal_submit
from execution.models import Order
from strategies.selectors import market_data_source

IST = ZoneInfo("Asia/Kolkata")
_bars = count()


def last_price(instrument) -> Decimal:
    return market_data_source().ltp([instrument])[instrument.instrument_token]


def signal(strategy, instrument, target: int, *, stop_pct: Decimal = Decimal("2"), price: Decimal | None = None):
    """A strategy signal at the current simulated price, its stop ``stop_pct``% on the losing side."""
    price = price if price is not None else last_price(instrument)
    stop = None
    if target:
        stop = (price * (1 - target * stop_pct / 100)).quantize(Decimal("0.05"))
    recorded, _ = signal_submit(
        strategy=strategy,
        instrument=instrument,
        bar_time=datetime(2026, 11, 20, 9, 15, tzinfo=IST) + timedelta(minutes=next(_bars)),
        target=target,
        price=price,
        stop_price=stop,
    )
    return recorded


def trade(account, strategy, instrument, target: int, **kwargs) -> list[Order]:
    """Send one signal through the pipeline for one account; returns its orders (placed)."""
    sent = signal(strategy, instrument, target, **kwargs)
    return execute_signal_for_account(signal_id=sent.id, account_id=account.id)


def today_ist():
    return timezone.localtime(timezone.now(), IST).date()


class WorkerKilled(BaseException):
    """What a worker killed mid-task looks like from inside: nothing after this line runs."""


def two_accounts_three_positions() -> dict:
    """Asha holds two positions (INFY on two strategies), Bharat one (TCS); Asha's id is the lower."""
    from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

    infy, tcs = InstrumentFactory(tradingsymbol="INFY"), InstrumentFactory(tradingsymbol="TCS")
    trend = StrategyFactory(name="Trend", instruments=[infy, tcs])
    reversion = StrategyFactory(name="Reversion", instruments=[infy])
    asha, bharat = AccountFactory(name="Asha"), AccountFactory(name="Bharat")
    MappingFactory(account=asha, strategy=trend, allocation_pct=Decimal("40"))
    MappingFactory(account=asha, strategy=reversion, allocation_pct=Decimal("40"))
    MappingFactory(account=bharat, strategy=trend, allocation_pct=Decimal("50"))
    trade(asha, trend, infy, 1)
    trade(asha, reversion, infy, -1)
    trade(bharat, trend, tcs, -1)
    assert asha.id < bharat.id
    return {"asha": asha, "bharat": bharat, "trend": trend, "infy": infy, "tcs": tcs}
