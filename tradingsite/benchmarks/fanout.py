"""Fan-out benchmark: one signal to N paper accounts through the real Celery path.

Runs in a throwaway test database (created and dropped here) so an operator's data is never
touched, with a real worker subprocess on Redis reading that database.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Max
from django.utils import timezone


@dataclass
class FanoutResult:
    accounts: int
    mode: str
    latencies: list[float]  # seconds, signal recorded -> last order placed

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies)

    @property
    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def orders_per_second(self) -> float:
        return self.accounts / self.p50 if self.p50 else float("inf")


def _build_book(accounts: int, tag: str):
    from accounts.models import Account
    from execution.models import AccountStrategy
    from risk import services as risk_services
    from strategies.models import Instrument, Strategy

    risk_services.engine_start(reason="benchmark")
    instrument = Instrument.objects.create(
        instrument_token=990_000 + accounts + (0 if tag.startswith("C") else 500),
        exchange="NSE",
        tradingsymbol=f"BENCH{tag}",
        segment="NSE",
    )
    strategy = Strategy.objects.create(
        name=f"Benchmark {tag}", library_key="sma_crossover", timeframe="1m", parameters={}
    )
    strategy.instruments.add(instrument)
    book = Account.objects.bulk_create(
        Account(
            name=f"Benchmark {tag} #{i}",
            capital=Decimal("1000000"),
            daily_loss_limit=Decimal("50000"),
            max_order_quantity=100_000,
            max_order_value=Decimal("10000000"),
        )
        for i in range(accounts)
    )
    AccountStrategy.objects.bulk_create(
        AccountStrategy(account=a, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
        for a in book
    )
    return strategy, instrument, [a.id for a in book]


def _signal(strategy, instrument, n: int, *, dispatch: bool):
    """Alternate going long and going flat: every signal is one order (an entry or an exit) per account."""
    from execution.engine.signals import signal_submit
    from strategies.services import signal_record

    record = signal_submit if dispatch else signal_record
    entry = n % 2 == 0
    return record(
        strategy=strategy,
        instrument=instrument,
        bar_time=timezone.now(),
        target=1 if entry else 0,
        price=Decimal("500.00"),
        stop_price=Decimal("495.00") if entry else None,
    )[0]


def _last_order_latency(signal, expected_orders: int, timeout: float) -> float:
    from execution.models import Order, OrderStatus

    deadline = time.monotonic() + timeout
    orders = Order.objects.filter(signal=signal)
    while time.monotonic() < deadline:
        done = orders.exclude(status__in=[OrderStatus.PENDING]).count()
        if done >= expected_orders:
            last = orders.aggregate(last=Max("updated_at"))["last"]
            return (last - signal.created_at).total_seconds()
        # The latency comes from the rows' own timestamps, so polling less often loses nothing; every
        # 20 ms it took a tenth of a core from the workers being measured (2-core machine).
        time.sleep(0.1)
    raise TimeoutError(f"only {orders.count()} of {expected_orders} orders were placed within {timeout} s")


def run_celery(accounts: int, repeats: int, timeout: float = 60.0) -> FanoutResult:
    strategy, instrument, account_ids = _build_book(accounts, f"C{accounts}")
    latencies = []
    for n in range(repeats):
        signal = _signal(strategy, instrument, n, dispatch=True)  # on commit the worker gets it
        latencies.append(_last_order_latency(signal, accounts, timeout))
    return FanoutResult(accounts, "celery", latencies)


def run_sequential(accounts: int, repeats: int) -> FanoutResult:
    """The baseline the fan-out must beat: one process doing a worker's work for every account in
    turn. The signal is recorded with its pending deliveries, as the live path records it (without
    the message), read once, and each account's delivery decided and its order placed."""
    from django.db import transaction

    from execution.engine.delivery import deliveries_create
    from execution.engine.fanout import signal_place_on_account, signal_to_place

    strategy, instrument, account_ids = _build_book(accounts, f"S{accounts}")
    latencies = []
    for n in range(repeats):
        started = time.perf_counter()
        with transaction.atomic():
            signal = _signal(strategy, instrument, n, dispatch=False)
            deliveries_create(signal=signal)
        to_place = signal_to_place(signal_id=signal.id)
        for account_id in account_ids:
            signal_place_on_account(to_place=to_place, account_id=account_id)
        latencies.append(time.perf_counter() - started)
    return FanoutResult(accounts, "sequential", latencies)


def database_vendor() -> str:
    return connection.vendor
