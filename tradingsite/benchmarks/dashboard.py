"""A synthetic trading book at any size, and timings of the operator's pages against it.

``build_trading_book`` writes accounts, strategies, mappings, signals, orders (with their risk
decisions), fills and positions with ``bulk_create``: the dashboard benchmark builds 100 accounts,
20 strategies and 50,000 orders with it, and the dashboard tests build two small books with it to
check that a page's query count does not grow with the data.

Only ever run it on a database made for it (the benchmark command makes a throwaway one; tests
have theirs): it adds thousands of rows that look like trading.
"""

from __future__ import annotations

import random
import statistics
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.models import Account, AccountStatus, Broker
from execution.models import AccountStrategy, EquitySnapshot, Fill, Order, OrderLeg, OrderStatus, Position
from execution.selectors import market_today_start
from risk.models import RiskDecisionRecord
from strategies.library import get_strategy_class
from strategies.models import Instrument, Product, Signal, SignalSource, Strategy

INSTRUMENT_COUNT = 12
STRATEGY_INSTRUMENTS = 3
MAPPINGS_PER_ACCOUNT = 3
SESSION_MINUTES = 375  # 09:15 to 15:30
# How the orders of a real day split by status: mostly filled, some refused by risk or the broker.
STATUS_MIX = [
    (OrderStatus.COMPLETE, 80),
    (OrderStatus.BLOCKED, 8),
    (OrderStatus.REJECTED, 5),
    (OrderStatus.CANCELLED, 3),
    (OrderStatus.OPEN, 2),
    (OrderStatus.UNKNOWN, 2),
]


@dataclass(frozen=True)
class BookSize:
    accounts: int
    strategies: int
    orders: int


@transaction.atomic
def build_trading_book(*, size: BookSize, prefix: str = "BENCH", seed: int = 1) -> dict[str, int]:
    """Write a day's trading for ``size`` and return how many rows of each kind were made."""
    rng = random.Random(seed)  # deterministic: two runs build the same book
    now = timezone.now()
    day_start = market_today_start(now)
    first_token = max(Instrument.objects.aggregate(top=Max("instrument_token"))["top"] or 0, 7_000_000) + 1
    instruments = Instrument.objects.bulk_create(
        Instrument(
            instrument_token=first_token + i,
            exchange="NSE",
            tradingsymbol=f"{prefix}{i:02d}",
            name=f"{prefix} instrument {i}",
            segment="NSE",
        )
        for i in range(INSTRUMENT_COUNT)
    )
    prices = {inst.id: Decimal(rng.randrange(100, 4000)) for inst in instruments}

    accounts = Account.objects.bulk_create(
        Account(
            name=f"{prefix} account {i:03d}",
            broker=Broker.PAPER,
            capital=Decimal(rng.choice([100_000, 250_000, 500_000, 1_000_000])),
            daily_loss_limit=Decimal("10000"),
            max_order_quantity=5000,
            max_order_value=Decimal("500000"),
            status=AccountStatus.HALTED if i % 10 == 9 else AccountStatus.ACTIVE,
            status_reason="Daily loss limit breached" if i % 10 == 9 else "",
        )
        for i in range(size.accounts)
    )
    parameters = get_strategy_class("sma_crossover").validate_parameters({"fast_period": 5, "slow_period": 20})
    strategies = Strategy.objects.bulk_create(
        Strategy(
            name=f"{prefix} strategy {i:02d}",
            library_key="sma_crossover",
            timeframe=rng.choice(["1m", "5m", "15m", "1h"]),
            parameters=parameters,
            product=Product.MIS,
            active=i % 7 != 6,
        )
        for i in range(size.strategies)
    )
    traded = {}
    links = []
    for i, strategy in enumerate(strategies):
        traded[strategy.id] = [instruments[(i + k) % INSTRUMENT_COUNT] for k in range(STRATEGY_INSTRUMENTS)]
        links += [
            Strategy.instruments.through(strategy_id=strategy.id, instrument_id=x.id) for x in traded[strategy.id]
        ]
    Strategy.instruments.through.objects.bulk_create(links)

    mappings = AccountStrategy.objects.bulk_create(
        AccountStrategy(
            account=account,
            strategy=strategies[(a + k) % len(strategies)],
            allocation_pct=Decimal("30"),
            risk_per_trade_pct=Decimal("1"),
        )
        for a, account in enumerate(accounts)
        for k in range(min(MAPPINGS_PER_ACCOUNT, len(strategies)))
    )

    # One signal goes to every account; order k is signal k // accounts on account k % accounts.
    signal_count = -(-size.orders // len(accounts))
    signals = Signal.objects.bulk_create(
        Signal(
            strategy=strategies[j % len(strategies)],
            instrument=traded[strategies[j % len(strategies)].id][j % STRATEGY_INSTRUMENTS],
            bar_time=day_start + timedelta(seconds=30 * j),
            target=rng.choice([1, -1, 0]),
            price=prices[traded[strategies[j % len(strategies)].id][j % STRATEGY_INSTRUMENTS].id],
            stop_price=None,
            source=SignalSource.STRATEGY,
            data_source="simulated",
        )
        for j in range(signal_count)
    )
    statuses = [status for status, weight in STATUS_MIX for _ in range(weight)]
    plans = []
    for k in range(size.orders):
        signal, account = signals[k // len(accounts)], accounts[k % len(accounts)]
        plans.append((signal, account, rng.choice(statuses), rng.randrange(1, 200)))
    decisions = RiskDecisionRecord.objects.bulk_create(
        RiskDecisionRecord(
            account=account,
            strategy=signal.strategy,
            signal=signal,
            instrument=signal.instrument,
            side="BUY" if signal.target >= 0 else "SELL",
            quantity=quantity,
            reference_price=signal.price,
            approved=status != OrderStatus.BLOCKED,
            summary="Refused: daily_loss" if status == OrderStatus.BLOCKED else "Approved",
            checks=[
                {
                    "name": "daily_loss",
                    "passed": status != OrderStatus.BLOCKED,
                    "reason": "Today's P&L is -₹10,250.00, beyond the daily loss limit of ₹10,000.00"
                    if status == OrderStatus.BLOCKED
                    else "Within the daily loss limit",
                }
            ],
        )
        for signal, account, status, quantity in plans
    )
    orders = Order.objects.bulk_create(
        Order(
            account=account,
            strategy=signal.strategy,
            signal=signal,
            instrument=signal.instrument,
            risk_decision=decision,
            leg=OrderLeg.ENTRY,
            side=decision.side,
            quantity=quantity,
            product=Product.MIS,
            reference_price=signal.price,
            tag=f"{prefix[:4]}{k:015d}",
            status=status,
            status_message={
                OrderStatus.BLOCKED: decision.summary,
                OrderStatus.REJECTED: "Insufficient funds. Required margin is 95,250.00 but available is 12,000.00",
            }.get(status, ""),
            broker_order_id="" if status == OrderStatus.BLOCKED else f"{prefix}{k}",
            filled_quantity=quantity if status == OrderStatus.COMPLETE else 0,
            average_price=signal.price if status == OrderStatus.COMPLETE else None,
            placed_at=None if status == OrderStatus.BLOCKED else now,
        )
        for k, ((signal, account, status, quantity), decision) in enumerate(zip(plans, decisions, strict=True))
    )
    day_seconds = max(int((now - day_start).total_seconds()), 1)
    fills = Fill.objects.bulk_create(
        Fill(
            order=order,
            account_id=order.account_id,
            broker_trade_id=f"{prefix}-{order.tag}",
            quantity=order.quantity,
            price=order.reference_price,
            realised_pnl=Decimal(rng.randrange(-60000, 60000)) / 100,
            charges=Decimal(rng.randrange(100, 4000)) / 100,
            filled_at=day_start + timedelta(seconds=rng.randrange(day_seconds)),
        )
        for order in orders
        if order.status == OrderStatus.COMPLETE
    )
    positions = []
    for mapping in mappings:
        for instrument in traded[mapping.strategy_id][:2]:
            quantity = rng.choice([0, 0, 10, 25, -15, 50])
            average = prices[instrument.id]
            last = average + Decimal(rng.randrange(-50, 50))
            positions.append(
                Position(
                    account_id=mapping.account_id,
                    strategy_id=mapping.strategy_id,
                    instrument=instrument,
                    product=Product.MIS,
                    quantity=quantity,
                    average_price=average,
                    last_price=last,
                    unrealised_pnl=(last - average) * quantity,
                    realised_pnl=Decimal(rng.randrange(-20000, 20000)) / 100,
                    marked_at=now,
                )
            )
    Position.objects.bulk_create(positions)
    # The equity curve's snapshots: one a minute per account over the last session's worth of
    # minutes (6¼ hours, as an NSE day has), as the mark-to-market tick writes them.
    minute = now.replace(second=0, microsecond=0)
    minutes = min(day_seconds // 60, SESSION_MINUTES)
    snapshots = EquitySnapshot.objects.bulk_create(
        EquitySnapshot(
            account=account,
            at=minute - timedelta(minutes=m),
            marked_at=minute - timedelta(minutes=m),
            realised=Decimal(rng.randrange(-500000, 500000)) / 100,
            unrealised=Decimal(rng.randrange(-200000, 200000)) / 100,
            charges=Decimal(rng.randrange(0, 50000)) / 100,
        )
        for account in accounts
        for m in range(minutes)
    )
    return {
        "accounts": len(accounts),
        "strategies": len(strategies),
        "mappings": len(mappings),
        "signals": len(signals),
        "orders": len(orders),
        "fills": len(fills),
        "positions": len(positions),
        "equity snapshots": len(snapshots),
    }


@dataclass(frozen=True)
class Timing:
    name: str
    url: str
    status: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    queries: int | None = None


def time_requests(client, name: str, url: str, *, requests: int, headers: dict | None = None) -> Timing:
    """GET ``url`` ``requests`` times (after two warm-ups) and return the latency percentiles."""
    headers = headers or {}
    for _ in range(2):
        response = client.get(url, headers=headers)
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return Timing(
        name=name,
        url=url,
        status=response.status_code,
        p50_ms=statistics.median(samples),
        p95_ms=samples[min(len(samples) - 1, max(0, int(round(0.95 * len(samples))) - 1))],
        max_ms=samples[-1],
    )
