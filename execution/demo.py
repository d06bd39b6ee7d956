"""The demo: paper accounts, strategies on several timeframes, and mappings between them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.contrib.auth import get_user_model
from django.db import transaction

from accounts.models import Account, Broker
from strategies.library import get_strategy_class
from strategies.models import Instrument, Product, Strategy
from strategies.services import instruments_load_csv

from .engine.schedules import ensure_beat_schedules
from .mappings import mapping_save

DEMO_INSTRUMENTS = Path(__file__).resolve().parents[1] / "strategies" / "fixtures" / "demo_instruments_nse.csv"

# name, capital, daily loss limit, max order quantity, max order value
DEMO_ACCOUNTS = [
    ("Paper Asha", "100000", "5000", 500, "60000"),
    ("Paper Bharat", "500000", "20000", 2000, "250000"),
    ("Paper Chitra", "250000", "10000", 1000, "150000"),
    ("Paper Dev", "1000000", "30000", 5000, "500000"),
]
# name, library key, timeframe, symbols, parameters
# Every strategy may go short (MIS), so none is ever flat once its indicators are ready: whatever the
# hour, each one enters on its first bar after Start, on every account mapped to it. The 1m crossover
# is fast (3/8 bars on four instruments) so that, replayed on the simulated market, the demo makes
# about five signals per 10 minutes (tests/execution/test_demo.py).
DEMO_STRATEGIES = [
    (
        "SMA 3/8 crossover 1m",
        "sma_crossover",
        "1m",
        ["INFY", "RELIANCE", "TCS", "ITC"],
        {"fast_period": 3, "slow_period": 8, "allow_short": True},
    ),
    (
        "EMA 5/13 crossover 5m",
        "ema_crossover",
        "5m",
        ["HDFCBANK", "ICICIBANK"],
        {"fast_period": 5, "slow_period": 13, "allow_short": True},
    ),
    (
        "RSI 40/60 15m",
        "rsi_threshold",
        "15m",
        ["SBIN", "ITC"],
        {"buy_below": 40, "sell_above": 60, "allow_short": True},
    ),
    ("Donchian 20 breakout 1h", "donchian_breakout", "1h", ["AXISBANK", "INFY"], {"allow_short": True}),
]
# account, strategy, allocation %, risk per trade %
DEMO_MAPPINGS = [
    ("Paper Asha", "SMA 3/8 crossover 1m", "50", "2"),  # ₹1,00,000 × 50% = ₹50,000; 2% → ₹1,000 at risk
    ("Paper Asha", "RSI 40/60 15m", "30", "1"),
    ("Paper Bharat", "SMA 3/8 crossover 1m", "40", "1.5"),
    ("Paper Bharat", "EMA 5/13 crossover 5m", "40", "1"),
    ("Paper Chitra", "SMA 3/8 crossover 1m", "60", "2"),
    ("Paper Chitra", "Donchian 20 breakout 1h", "30", "1"),
    ("Paper Dev", "SMA 3/8 crossover 1m", "25", "1"),
    ("Paper Dev", "EMA 5/13 crossover 5m", "25", "1"),
    ("Paper Dev", "RSI 40/60 15m", "25", "1"),
]


@dataclass
class SeedResult:
    created: bool
    admin_username: str = ""
    admin_password: str = ""  # only when the admin was created now; shown once, never stored in clear


def demo_seed(*, admin_username: str = "admin") -> SeedResult:
    """Seed the demo if the database holds no accounts yet; otherwise change nothing."""
    ensure_beat_schedules()
    if Account.objects.exists():
        return SeedResult(created=False)
    with transaction.atomic():
        instruments_load_csv(text=DEMO_INSTRUMENTS.read_text(encoding="utf-8"))
        accounts = {}
        for name, capital, loss, max_qty, max_value in DEMO_ACCOUNTS:
            accounts[name] = Account.objects.create(
                name=name,
                broker=Broker.PAPER,
                capital=Decimal(capital),
                daily_loss_limit=Decimal(loss),
                max_order_quantity=max_qty,
                max_order_value=Decimal(max_value),
            )
        strategies = {}
        for name, key, timeframe, symbols, params in DEMO_STRATEGIES:
            strategy = Strategy.objects.create(
                name=name,
                library_key=key,
                timeframe=timeframe,
                product=Product.MIS,
                parameters=get_strategy_class(key).validate_parameters(params),
                # A newcomer sees trades on the first bar after starting the engine, not at the next crossover.
                enter_on_first_bar=True,
            )
            strategy.instruments.set(Instrument.objects.filter(exchange="NSE", tradingsymbol__in=symbols))
            strategies[name] = strategy
        for account, strategy, allocation, risk in DEMO_MAPPINGS:
            mapping_save(
                account=accounts[account],
                strategy=strategies[strategy],
                allocation_pct=Decimal(allocation),
                risk_per_trade_pct=Decimal(risk),
            )
        result = SeedResult(created=True)
        user_model = get_user_model()
        if not user_model.objects.filter(username=admin_username).exists():
            password = secrets.token_urlsafe(12)
            user_model.objects.create_superuser(admin_username, "", password)
            result.admin_username, result.admin_password = admin_username, password
    return result
