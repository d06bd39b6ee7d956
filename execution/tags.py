"""Kite order tags: deterministic, alphanumeric, at most 20 characters.

The tag is the only handle the client controls, so it is how an order whose placement timed
out is found again in the order book. It is derived from what the order is for, never random.
"""

from datetime import date

_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
LEG_CODES = {"entry": "E", "exit": "X"}


def base36(number: int, width: int) -> str:
    if number < 0:
        raise ValueError("tags encode non-negative ids only")
    out = ""
    while number:
        number, digit = divmod(number, 36)
        out = _DIGITS[digit] + out
    out = out or "0"
    if len(out) > width:
        raise ValueError(f"id too large for a {width}-character tag field")
    return out.rjust(width, "0")


def signal_order_tag(*, signal_id: int, account_id: int, leg: str) -> str:
    """S + signal (8) + A + account (6) + leg (1) = 17 characters."""
    return f"S{base36(signal_id, 8)}A{base36(account_id, 6)}{LEG_CODES[leg]}"


def position_exit_tag(*, position_id: int, on_date: date, reason_code: str, attempt: int = 0) -> str:
    """Q + position (8) + day (4) + reason (1) + attempt (2) = 16 characters.

    One per position, day, reason and attempt: a square-off task that runs twice finds its order.
    """
    day_number = on_date.toordinal() - date(2020, 1, 1).toordinal()
    return f"Q{base36(position_id, 8)}{base36(day_number, 4)}{reason_code[:1].upper()}{base36(attempt, 2)}"
