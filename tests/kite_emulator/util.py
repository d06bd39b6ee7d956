"""Small shared helpers: IST clock, timestamp formats, request-parameter access, tick maths."""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation

from .errors import input_error

IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
TS_FORMAT = "%Y-%m-%d %H:%M:%S"


def now_ist() -> dt.datetime:
    return dt.datetime.now(IST)


def fmt_ts(value: dt.datetime) -> str:
    """Kite's 19-character wall-clock timestamp (IST)."""
    return value.astimezone(IST).strftime(TS_FORMAT)


def sha256_hex(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def stable_int(*parts: object) -> int:
    """A process-independent integer hash (Python's str hash is salted)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


class Params:
    """Merged query-string and form parameters; every key maps to a list of values."""

    def __init__(self, values: dict[str, list[str]] | None = None):
        self.values: dict[str, list[str]] = values or {}

    def get(self, key: str, default: str | None = None) -> str | None:
        vals = self.values.get(key)
        return vals[0] if vals else default

    def getlist(self, key: str) -> list[str]:
        return list(self.values.get(key, []))

    def __contains__(self, key: str) -> bool:
        return bool(self.values.get(key))

    def required(self, key: str) -> str:
        value = self.get(key)
        if value is None or value == "":
            raise input_error(f"Missing or empty field `{key}`")
        return value

    def decimal(self, key: str, default: Decimal | None = None) -> Decimal | None:
        raw = self.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise input_error(f"Invalid `{key}`.")
        if not value.is_finite():
            raise input_error(f"Invalid `{key}`.")
        return value

    def integer(self, key: str, default: int | None = None) -> int | None:
        value = self.decimal(key)
        if value is None:
            return default
        if value != value.to_integral_value():
            raise input_error(f"Invalid `{key}`.")
        return int(value)

    def flat(self) -> dict[str, str | list[str]]:
        return {k: (v[0] if len(v) == 1 else list(v)) for k, v in self.values.items()}


def to_decimal(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


def is_tick_multiple(price: Decimal, tick: Decimal) -> bool:
    return tick <= 0 or price % tick == 0


def round_to_tick(price: Decimal, tick: Decimal) -> Decimal:
    if tick <= 0:
        return price
    return (price / tick).to_integral_value() * tick


def num(value: Decimal | float | int) -> float | int:
    """JSON number as Kite prints it (ints stay ints)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
