"""factory_boy factories for the project's models."""

from decimal import Decimal

import factory

from accounts.models import Account, Broker
from execution.models import AccountStrategy
from strategies.models import Instrument, Product, Strategy


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Paper account {n}")
    broker = Broker.PAPER
    capital = Decimal("100000")
    daily_loss_limit = Decimal("5000")
    max_order_quantity = 10_000
    max_order_value = Decimal("1000000")


class InstrumentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Instrument
        django_get_or_create = ("instrument_token",)

    instrument_token = factory.Sequence(lambda n: 900_000 + n)
    exchange = "NSE"
    tradingsymbol = factory.Sequence(lambda n: f"DEMO{n}")
    segment = "NSE"
    lot_size = 1
    tick_size = Decimal("0.05")


class StrategyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Strategy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Strategy {n}")
    library_key = "sma_crossover"
    timeframe = "1m"
    parameters = factory.LazyAttribute(lambda o: {"fast_period": 5, "slow_period": 20})
    product = Product.MIS

    @factory.post_generation
    def instruments(self, create, extracted, **kwargs):
        if create and extracted:
            self.instruments.set(extracted)


class MappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccountStrategy

    account = factory.SubFactory(AccountFactory)
    strategy = factory.SubFactory(StrategyFactory)
    allocation_pct = Decimal("50")
    risk_per_trade_pct = Decimal("2")
