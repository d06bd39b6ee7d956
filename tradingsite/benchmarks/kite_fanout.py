"""Kite fan-out benchmark: one signal to N Kite accounts on the local emulator, through Celery.

The emulator runs in this process with a fixed latency on every call; the accounts are logged in
at it; a real worker subprocess (on Redis, reading a throwaway database) places the orders through
the real kiteconnect client. Latency = signal recorded -> last order acknowledged by Kite (its
order id recorded). Between signals the books are reconciled (not timed) so the ledger knows the
positions the next signal closes.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from .fanout import FanoutResult, _last_order_latency

INFY_TOKEN = 408065


@dataclass
class KiteFanoutReport:
    call: list[float]  # seconds, one place_order through kiteconnect at the emulator
    first: float  # seconds, the first signal: cold workers (connections opened, statements prepared)
    fanout: FanoutResult  # the signals after it: workers as they run all day

    @property
    def call_p50(self) -> float:
        return statistics.median(self.call)

    @property
    def target(self) -> float:
        return 2 * self.call_p50 + 0.2

    @property
    def met(self) -> bool:
        return self.fanout.p95 < self.target


def start_emulator(*, latency: float):
    from tests.kite_emulator import KiteEmulator

    emulator = KiteEmulator().start()  # Kite's own rate limits stay on: the budget must respect them
    emulator.inject_fault(None, "latency", seconds=latency)
    return emulator


def build_book(*, emulator, accounts: int):
    """N Kite accounts logged in at the emulator, each mapped to one INFY strategy."""
    from accounts.models import Account, Broker
    from execution.models import AccountStrategy
    from risk import services as risk_services
    from strategies.models import Instrument, Strategy

    risk_services.engine_start(reason="Kite fan-out benchmark")
    instrument, _ = Instrument.objects.get_or_create(
        instrument_token=INFY_TOKEN, defaults={"exchange": "NSE", "tradingsymbol": "INFY", "segment": "NSE"}
    )
    strategy = Strategy.objects.create(
        name="Kite fan-out benchmark", library_key="sma_crossover", timeframe="1m", parameters={}
    )
    strategy.instruments.add(instrument)
    expires = timezone.now() + timedelta(hours=6)
    rows = []
    for n in range(accounts):
        api_key, secret, user_id = f"bench{n}", f"benchsecret{n}", f"BK{1000 + n}"
        emulator.add_account(api_key=api_key, api_secret=secret, user_id=user_id)
        account = Account(
            name=f"Kite benchmark {n}",
            broker=Broker.KITE,
            zerodha_user_id=user_id,
            api_key=api_key,
            capital=Decimal("1000000"),
            daily_loss_limit=Decimal("50000"),
            max_order_quantity=100_000,
            max_order_value=Decimal("10000000"),
        )
        account.set_api_secret(secret)
        account.set_access_token(emulator.login(api_key), expires_at=expires)
        rows.append(account)
    book = Account.objects.bulk_create(rows)
    AccountStrategy.objects.bulk_create(
        AccountStrategy(account=a, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
        for a in book
    )
    return strategy, instrument, [a.id for a in book]


def one_call_latency(*, emulator, calls: int) -> list[float]:
    """place_order through kiteconnect, one at a time, on an account of its own."""
    from kiteconnect import KiteConnect

    emulator.add_account(api_key="benchprobe", api_secret="probesecret", user_id="BP1000")
    client = KiteConnect("benchprobe", access_token=emulator.login("benchprobe"), root=emulator.root, timeout=7)
    timings = []
    for n in range(calls):
        started = time.perf_counter()
        client.place_order(
            variety="regular",
            exchange="NSE",
            tradingsymbol="INFY",
            transaction_type="BUY",
            quantity=1,
            product="MIS",
            order_type="MARKET",
            market_protection=-1,
            tag=f"PROBE{n}",
        )
        timings.append(time.perf_counter() - started)
        time.sleep(0.11)  # stay under Kite's 10 orders/s on the probe account
    return timings


def run(*, emulator, accounts: int, repeats: int, calls: int = 20, timeout: float = 60.0) -> KiteFanoutReport:
    from execution.engine.signals import signal_submit
    from execution.tracking.reconcile import reconcile_account

    strategy, instrument, account_ids = build_book(emulator=emulator, accounts=accounts)
    call = one_call_latency(emulator=emulator, calls=calls)
    latencies = []
    for n in range(repeats + 1):
        # Enter, then exit, alternately: one order per account per signal.
        signal, _ = signal_submit(
            strategy=strategy,
            instrument=instrument,
            bar_time=timezone.now(),
            target=1 if n % 2 == 0 else 0,
            price=Decimal("1500"),
            stop_price=Decimal("1485"),
        )
        latencies.append(_last_order_latency(signal, accounts, timeout))
        for account_id in account_ids:
            reconcile_account(account_id=account_id)
        time.sleep(1.1)  # Kite's per-second order window starts afresh for the next signal
    # The first signal opens every worker thread's database and Kite connections and prepares its
    # statements; reported on its own, the steady state is the signals after it.
    return KiteFanoutReport(call=call, first=latencies[0], fanout=FanoutResult(accounts, "celery", latencies[1:]))
