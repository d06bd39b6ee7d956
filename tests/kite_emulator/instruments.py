"""Instrument master: loaded from Kite's instrument dump CSV, extendable at runtime."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

CSV_FIELDS = [
    "instrument_token",
    "exchange_token",
    "tradingsymbol",
    "name",
    "last_price",
    "expiry",
    "strike",
    "tick_size",
    "lot_size",
    "instrument_type",
    "segment",
    "exchange",
]
DEFAULT_CSV = Path(__file__).with_name("data") / "instruments_nse.csv"

# Liquid NSE equities the project trades; absent from the mock dump. Real tokens.
DEFAULT_EXTRA = [
    (408065, 1594, "INFY", "INFOSYS"),
    (779521, 3045, "SBIN", "STATE BANK OF INDIA"),
    (738561, 2885, "RELIANCE", "RELIANCE INDUSTRIES"),
    (2953217, 11536, "TCS", "TATA CONSULTANCY SERV LT"),
    (341249, 1333, "HDFCBANK", "HDFC BANK"),
]


@dataclass(frozen=True)
class Instrument:
    instrument_token: int
    exchange_token: int
    tradingsymbol: str
    name: str
    exchange: str
    segment: str
    instrument_type: str = "EQ"
    tick_size: Decimal = Decimal("0.05")
    lot_size: int = 1
    expiry: str = ""
    strike: Decimal = Decimal("0")
    last_price: Decimal = Decimal("0")

    @property
    def key(self) -> str:
        return f"{self.exchange}:{self.tradingsymbol}"

    def csv_row(self) -> list[str]:
        return [
            str(self.instrument_token),
            str(self.exchange_token),
            self.tradingsymbol,
            self.name,
            f"{float(self.last_price)}",
            self.expiry,
            f"{float(self.strike)}",
            f"{float(self.tick_size)}",
            str(self.lot_size),
            self.instrument_type,
            self.segment,
            self.exchange,
        ]


class InstrumentStore:
    def __init__(self) -> None:
        self._by_key: dict[str, Instrument] = {}
        self._by_token: dict[int, Instrument] = {}

    def load_csv(self, path: Path | str = DEFAULT_CSV) -> None:
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                self.add(
                    Instrument(
                        instrument_token=int(row["instrument_token"]),
                        exchange_token=int(row["exchange_token"]),
                        tradingsymbol=row["tradingsymbol"],
                        name=row["name"],
                        exchange=row["exchange"],
                        segment=row["segment"],
                        instrument_type=row["instrument_type"],
                        tick_size=Decimal(row["tick_size"]),
                        lot_size=int(row["lot_size"]),
                        expiry=row["expiry"],
                        strike=Decimal(row["strike"] or "0"),
                        last_price=Decimal(row["last_price"] or "0"),
                    )
                )

    def add(self, instrument: Instrument) -> Instrument:
        self._by_key[instrument.key] = instrument
        self._by_token[instrument.instrument_token] = instrument
        return instrument

    def add_equity(
        self,
        tradingsymbol: str,
        *,
        exchange: str = "NSE",
        instrument_token: int | None = None,
        exchange_token: int | None = None,
        name: str | None = None,
        tick_size: object = "0.05",
        lot_size: int = 1,
    ) -> Instrument:
        if instrument_token is None:
            instrument_token = 90_000_000 + len(self._by_token)
            while instrument_token in self._by_token:
                instrument_token += 1
        return self.add(
            Instrument(
                instrument_token=instrument_token,
                exchange_token=exchange_token if exchange_token is not None else instrument_token // 256,
                tradingsymbol=tradingsymbol,
                name=name or tradingsymbol,
                exchange=exchange,
                segment=exchange,
                tick_size=Decimal(str(tick_size)),
                lot_size=int(lot_size),
            )
        )

    def add_defaults(self) -> None:
        for token, exch_token, symbol, name in DEFAULT_EXTRA:
            if f"NSE:{symbol}" not in self._by_key:
                self.add_equity(symbol, instrument_token=token, exchange_token=exch_token, name=name)

    def get(self, exchange: str, tradingsymbol: str) -> Instrument | None:
        return self._by_key.get(f"{exchange}:{tradingsymbol}")

    def by_key(self, key: str) -> Instrument | None:
        return self._by_key.get(key)

    def by_token(self, token: int) -> Instrument | None:
        return self._by_token.get(token)

    def all(self, exchange: str | None = None) -> list[Instrument]:
        return [i for i in self._by_key.values() if exchange is None or i.exchange == exchange]

    def to_csv(self, exchange: str | None = None) -> bytes:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(CSV_FIELDS)
        for inst in self.all(exchange):
            writer.writerow(inst.csv_row())
        return buf.getvalue().encode("utf-8")
