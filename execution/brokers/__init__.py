"""Brokers behind one interface; ``broker_for`` is the only place that knows which one an account uses."""

from django.conf import settings

from .base import (
    Broker,
    BrokerError,
    BrokerFill,
    BrokerHolding,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    BrokerUnavailable,
    OrderRequest,
    OutcomeUnknown,
    PlaceResult,
    RateLimited,
    SessionExpired,
)

__all__ = [
    "Broker",
    "BrokerError",
    "BrokerFill",
    "BrokerHolding",
    "BrokerOrder",
    "BrokerPosition",
    "BrokerRejected",
    "BrokerUnavailable",
    "OrderRequest",
    "OutcomeUnknown",
    "PlaceResult",
    "RateLimited",
    "SessionExpired",
    "broker_for",
]


def broker_for(account) -> Broker:
    from accounts.models import Broker as BrokerKind

    if account.broker == BrokerKind.PAPER:
        from strategies.selectors import market_data_source

        from .paper import PaperBroker

        return PaperBroker(account=account, market_data=market_data_source(), slippage_bps=settings.PAPER_SLIPPAGE_BPS)
    if account.broker == BrokerKind.KITE:
        from .kite import KiteBroker

        return KiteBroker(account=account)
    raise ValueError(f"No broker adapter for {account.broker!r}")
