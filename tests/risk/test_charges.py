"""The charges model: a pure function over plain inputs, at Zerodha's published equity rates."""

from decimal import Decimal

import pytest

from risk.charges import DEFAULT_RATES, NSE_EQUITY_DELIVERY, NSE_EQUITY_INTRADAY, fill_charges, round_trip_charges

D = Decimal


def test_an_nse_intraday_round_trip_pays_what_zerodhas_calculator_lists():
    # Buy 100 at ₹1,000 and sell 100 at ₹1,100, MIS on NSE, worked by hand from zerodha.com/charges:
    # turnover ₹2,10,000; brokerage 0.03% capped at ₹20 an order: 20 + 20; STT 0.025% of the sell
    # ₹1,10,000 = 27.50; exchange 0.00297% of turnover = 6.237 (6.24 as 2.97 + 3.27); SEBI ₹10/crore
    # = 0.21 (0.10 + 0.11); stamp 0.003% of the buy ₹1,00,000 = 3.00; GST 18% of (40 + 6.24 + 0.21).
    charges = round_trip_charges(rates=NSE_EQUITY_INTRADAY, quantity=100, buy_price=D("1000"), sell_price=D("1100"))
    assert charges.brokerage == D("40.00")
    assert charges.stt == D("27.50")
    assert charges.exchange_txn == D("6.24")
    assert charges.sebi == D("0.21")
    assert charges.stamp == D("3.00")
    assert charges.gst == D("8.36")  # 18% of 46.45 = 8.361
    assert charges.total == D("85.31")


def test_delivery_pays_no_brokerage_and_stt_on_both_sides():
    buy = fill_charges(rates=NSE_EQUITY_DELIVERY, side="BUY", quantity=10, price=D("2500"))
    sell = fill_charges(rates=NSE_EQUITY_DELIVERY, side="SELL", quantity=10, price=D("2500"))
    assert buy.brokerage == sell.brokerage == D("0")
    assert buy.stt == sell.stt == D("25.00")  # 0.1% of ₹25,000
    assert buy.stamp == D("3.75") and sell.stamp == D("0")  # 0.015% on the buy side only
    assert buy.gst == D("0.14")  # 18% of (0.74 exchange + 0.03 SEBI) = 0.1386


def test_a_small_intraday_order_pays_the_percentage_not_the_cap():
    charges = fill_charges(rates=NSE_EQUITY_INTRADAY, side="BUY", quantity=10, price=D("500"))
    assert charges.brokerage == D("1.50")  # 0.03% of ₹5,000, under ₹20


def test_the_brokerage_cap_is_per_order_however_many_fills_it_has():
    # One order of 100 at ₹1,000 filled in three parts pays ₹20 in all, as a single fill would.
    parts, before, brokerage = [30, 30, 40], D("0"), D("0")
    for quantity in parts:
        fill = fill_charges(
            rates=NSE_EQUITY_INTRADAY, side="SELL", quantity=quantity, price=D("1000"), order_value_before=before
        )
        brokerage += fill.brokerage
        before += quantity * D("1000")
    assert brokerage == D("20.00")
    whole = fill_charges(rates=NSE_EQUITY_INTRADAY, side="SELL", quantity=100, price=D("1000"))
    assert whole.brokerage == D("20.00")


def test_bse_differs_from_nse_only_in_the_exchange_charge():
    nse, bse = DEFAULT_RATES["NSE", "MIS"], DEFAULT_RATES["BSE", "MIS"]
    assert bse.exchange_txn_pct == D("0.00375") and nse.exchange_txn_pct == D("0.00297")
    assert {**bse.__dict__, "exchange_txn_pct": 0} == {**nse.__dict__, "exchange_txn_pct": 0}


@pytest.mark.parametrize(("side", "quantity"), [("HOLD", 1), ("BUY", 0), ("SELL", -5)])
def test_a_fill_that_cannot_exist_is_refused(side, quantity):
    with pytest.raises(ValueError):
        fill_charges(rates=NSE_EQUITY_INTRADAY, side=side, quantity=quantity, price=D("100"))
