"""The paper broker: fills at the market-data price with configurable slippage.

Its book is the system's own ledger (orders and fills rows of the paper account), so there is
no second copy to drift. MARKET orders fill at once; a LIMIT order fills at once when it is
marketable and otherwise stays OPEN.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from types import SimpleNamespace

from django.utils import timezone

from .base import (
    Broker,
    BrokerFill,
    BrokerOrder,
    BrokerPosition,
    BrokerRejected,
    OrderRequest,
    PlaceResult,
)

BPS = Decimal("10000")


def _round_to_tick(price: Decimal, tick: Decimal, rounding) -> Decimal:
    return (price / tick).quantize(Decimal("1"), rounding=rounding) * tick


class PaperBroker(Broker):
    name = "paper"

    def __init__(self, *, account, market_data, slippage_bps: Decimal) -> None:
        self.account = account
        self.market_data = market_data
        self.slippage_bps = Decimal(slippage_bps)

    def _last_price(self, request: OrderRequest) -> tuple[Decimal, Decimal]:
        quote = SimpleNamespace(
            instrument_token=request.instrument_token,
            exchange=request.exchange,
            tradingsymbol=request.tradingsymbol,
            tick_size=request.tick_size,
        )
        price = self.market_data.ltp([quote]).get(request.instrument_token) or request.reference_price
        if not price:
            raise BrokerRejected(f"No market price for {request.exchange}:{request.tradingsymbol}")
        return Decimal(price), request.tick_size

    def place_order(self, request: OrderRequest) -> PlaceResult:
        from execution.models import OrderStatus

        last, tick = self._last_price(request)
        slip = last * self.slippage_bps / BPS
        # Slippage always works against the trader, rounded to a valid tick away from them.
        if request.side == "BUY":
            fill_price = _round_to_tick(last + slip, tick, ROUND_CEILING)
        else:
            fill_price = _round_to_tick(last - slip, tick, ROUND_FLOOR)
        order_id = f"PAPER{request.tag}"
        if request.order_type == "LIMIT" and request.price is not None:
            marketable = fill_price <= request.price if request.side == "BUY" else fill_price >= request.price
            if not marketable:
                return PlaceResult(order_id=order_id, status=OrderStatus.OPEN, status_message="Limit order open")
            fill_price = request.price
        fill = BrokerFill(
            trade_id=f"PT{request.tag}",
            order_id=order_id,
            quantity=request.quantity,
            price=fill_price,
            filled_at=timezone.now(),
            tag=request.tag,
        )
        return PlaceResult(order_id=order_id, status=OrderStatus.COMPLETE, fills=(fill,))

    def cancel_order(self, order_id: str) -> None:
        # Paper orders that are still open are cancelled by the order service itself.
        return None

    def orders(self) -> list[BrokerOrder]:
        from execution.models import Order

        return [
            BrokerOrder(
                order_id=o.broker_order_id,
                tag=o.tag,
                status=o.status,
                quantity=o.quantity,
                filled_quantity=o.filled_quantity,
                average_price=o.average_price,
                status_message=o.status_message,
                side=o.side,
                product=o.product,
            )
            for o in Order.objects.filter(account=self.account).exclude(broker_order_id="")
        ]

    def trades(self) -> list[BrokerFill]:
        from execution.models import Fill

        return [
            BrokerFill(
                trade_id=f.broker_trade_id,
                order_id=f.order.broker_order_id,
                quantity=f.quantity,
                price=f.price,
                filled_at=f.filled_at,
                tag=f.order.tag,
            )
            for f in Fill.objects.filter(account=self.account).select_related("order")
        ]

    def positions(self) -> list[BrokerPosition]:
        from django.db.models import Sum

        from execution.models import Position

        rows = (
            Position.objects.filter(account=self.account)
            .values("instrument__exchange", "instrument__tradingsymbol", "product")
            .annotate(quantity=Sum("quantity"))
        )
        return [
            BrokerPosition(
                exchange=r["instrument__exchange"],
                tradingsymbol=r["instrument__tradingsymbol"],
                product=r["product"],
                quantity=r["quantity"],
                average_price=Decimal("0"),
            )
            for r in rows
        ]

    def ltp(self, symbols: list[str]) -> dict[str, Decimal]:
        from strategies.models import Instrument

        by_symbol = {}
        for symbol in symbols:
            exchange, _, tradingsymbol = symbol.partition(":")
            instrument = Instrument.objects.filter(exchange=exchange, tradingsymbol=tradingsymbol).first()
            if instrument:
                by_symbol[symbol] = instrument
        prices = self.market_data.ltp(list(by_symbol.values()))
        return {s: prices[i.instrument_token] for s, i in by_symbol.items() if i.instrument_token in prices}
