"""Kite's order-field rules, applied to place and modify requests."""

from __future__ import annotations

import re
from decimal import Decimal

from .errors import KiteError, input_error, order_error
from .instruments import Instrument, InstrumentStore
from .util import Params, is_tick_multiple

VARIETIES = {"regular", "amo", "co", "iceberg", "auction"}
EXCHANGES = {"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"}
TRANSACTION_TYPES = {"BUY", "SELL"}
PRODUCTS = {"CNC", "MIS", "NRML", "MTF"}
ORDER_TYPES = {"MARKET", "LIMIT", "SL", "SL-M"}
VALIDITIES = {"DAY", "IOC", "TTL"}
TAG_RE = re.compile(r"^[A-Za-z0-9]+$")
MARKET_PROTECTION_MESSAGE = (
    "Market orders without market protection are not allowed via API. "
    "Please set market protection or use a Limit order."
)


def _choice(params: Params, key: str, allowed: set[str]) -> str:
    value = params.get(key)
    if not value:
        raise input_error(f"Missing or empty field `{key}`")
    if value not in allowed:
        raise input_error(f"Invalid `{key}`.")
    return value


def check_tag(tag: str | None) -> None:
    if tag is None or tag == "":
        return
    if len(tag) > 20:
        raise input_error("Tag length should be less than or equal to 20 characters.")
    if not TAG_RE.match(tag):
        raise input_error("Tag should be alphanumeric.")


def check_quantity(quantity: int, inst: Instrument) -> None:
    if quantity <= 0:
        raise input_error("Invalid `quantity`.")
    if quantity % inst.lot_size:
        raise input_error(f"Quantity should be a multiple of lot size ({inst.lot_size}) for {inst.tradingsymbol}.")


def check_price(value: Decimal | None, inst: Instrument, field: str) -> Decimal:
    if value is None or value <= 0:
        raise input_error(f"Invalid `{field}`.")
    if not is_tick_multiple(value, inst.tick_size):
        label = "trigger price" if field == "trigger_price" else "price"
        raise input_error(
            f"Tick size for this script is {inst.tick_size.normalize():f}. "
            f"Kindly enter {label} in the multiple of tick size for this script"
        )
    return value


def check_market_protection(order_type: str, raw: Decimal | None) -> Decimal:
    if raw is not None and raw != 0 and raw != -1 and not (0 < raw <= 100):
        raise input_error("Invalid `market_protection`. Use -1 (automatic) or a percentage in (0, 100].")
    if order_type in ("MARKET", "SL-M") and (raw is None or raw == 0):
        raise order_error(MARKET_PROTECTION_MESSAGE)
    return raw or Decimal(0)


def check_stoploss(order_type: str, side: str, price: Decimal, trigger: Decimal) -> None:
    if order_type != "SL":
        return
    if side == "BUY" and trigger > price:
        raise input_error("Trigger price for stoploss buy orders should be less than or equal to the price.")
    if side == "SELL" and trigger < price:
        raise input_error("Trigger price for stoploss sell orders should be greater than or equal to the price.")


def validate_place(variety: str, params: Params, instruments: InstrumentStore) -> tuple[Instrument, dict]:
    """Return the instrument and the normalised order fields, or raise a :class:`KiteError`."""
    if variety not in VARIETIES:
        raise input_error("Invalid `variety`.")
    exchange = _choice(params, "exchange", EXCHANGES)
    symbol = params.required("tradingsymbol")
    inst = instruments.get(exchange, symbol)
    if inst is None:
        raise input_error(f"Invalid `tradingsymbol`: {exchange}:{symbol} is not a known instrument.")
    side = _choice(params, "transaction_type", TRANSACTION_TYPES)
    quantity = params.integer("quantity")
    if quantity is None:
        raise input_error("Missing or empty field `quantity`")
    check_quantity(quantity, inst)
    product = _choice(params, "product", PRODUCTS)
    order_type = _choice(params, "order_type", ORDER_TYPES)
    validity = params.get("validity") or "DAY"
    if validity not in VALIDITIES:
        raise input_error("Invalid `validity`.")
    validity_ttl = params.integer("validity_ttl")
    if validity == "TTL" and (validity_ttl is None or validity_ttl <= 0):
        raise input_error("Invalid `validity_ttl`.")
    price = Decimal(0)
    trigger = Decimal(0)
    if order_type in ("LIMIT", "SL"):
        price = check_price(params.decimal("price"), inst, "price")
    if order_type in ("SL", "SL-M") or variety == "co":
        trigger = check_price(params.decimal("trigger_price"), inst, "trigger_price")
    check_stoploss(order_type, side, price, trigger)
    market_protection = check_market_protection(order_type, params.decimal("market_protection"))
    tag = params.get("tag")
    check_tag(tag)
    disclosed = params.integer("disclosed_quantity", 0)
    if disclosed < 0 or disclosed > quantity:
        raise input_error("Invalid `disclosed_quantity`.")
    if variety == "iceberg":
        legs = params.integer("iceberg_legs")
        if legs is None or not 2 <= legs <= 50:
            raise input_error("Invalid `iceberg_legs`.")
    return inst, {
        "variety": variety,
        "exchange": exchange,
        "tradingsymbol": symbol,
        "transaction_type": side,
        "quantity": quantity,
        "product": product,
        "order_type": order_type,
        "validity": validity,
        "validity_ttl": validity_ttl,
        "price": price,
        "trigger_price": trigger,
        "market_protection": market_protection,
        "tag": tag or None,
        "disclosed_quantity": disclosed,
        "algo_id": params.get("algo_id"),
    }


def validate_modify(order: dict, inst: Instrument, params: Params) -> dict:
    """Merge modifiable fields over ``order`` and re-validate; returns the changed fields."""
    order_type = params.get("order_type") or order["order_type"]
    if order_type not in ORDER_TYPES:
        raise input_error("Invalid `order_type`.")
    quantity = params.integer("quantity", order["quantity"])
    check_quantity(quantity, inst)
    if quantity < order["filled_quantity"]:
        raise input_error("Quantity cannot be less than the filled quantity.")
    validity = params.get("validity") or order["validity"]
    if validity not in VALIDITIES:
        raise input_error("Invalid `validity`.")
    price = Decimal(0)
    trigger = Decimal(0)
    if order_type in ("LIMIT", "SL"):
        price = check_price(params.decimal("price", Decimal(str(order["price"]))), inst, "price")
    if order_type in ("SL", "SL-M"):
        trigger = check_price(
            params.decimal("trigger_price", Decimal(str(order["trigger_price"]))), inst, "trigger_price"
        )
    check_stoploss(order_type, order["transaction_type"], price, trigger)
    mp = params.decimal("market_protection", Decimal(str(order.get("market_protection") or 0)))
    market_protection = check_market_protection(order_type, mp)
    disclosed = params.integer("disclosed_quantity", order["disclosed_quantity"])
    return {
        "order_type": order_type,
        "quantity": quantity,
        "validity": validity,
        "price": price,
        "trigger_price": trigger,
        "market_protection": market_protection,
        "disclosed_quantity": disclosed,
    }


__all__ = ["KiteError", "validate_place", "validate_modify", "check_tag", "MARKET_PROTECTION_MESSAGE"]
