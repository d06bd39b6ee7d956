"""The evaluation ledger's per-instrument detail, stored in columns.

A ledger row says, per instrument, what the strategy wanted on the bar and why: target, stop, close,
the indicator values that decided it, what it last signalled, whether it signalled and a note. Kept
as one JSON object per instrument, the same eight keys and the same few notes are written 500 times
per row. Stored here instead as one column per key (a text of comma-separated values, the notes as
numbers into a table of the row's distinct notes), the database keeps about a tenth of the bytes
(README, "The ledger's size"). Readers never see the columns: the field turns them back into the
per-instrument dicts, so the model, its selectors and ``/api/evaluations`` keep their shape.

Prices (stop, close) are rounded to the instrument's tick and indicators to ``INDICATOR_DECIMALS``
before they are stored (``round_detail``): the decision was made on the full values, and its note
says what it decided.
"""

from __future__ import annotations

import math
from decimal import Decimal

from django.db import models

FORMAT_KEY = "~format"
FORMAT = "columns-1"
# Four decimals keep an indicator's meaning (a moving average to 1/500 of the smallest NSE tick,
# an RSI to 0.0001) at half the digits of a float.
INDICATOR_DECIMALS = 4

_TARGETS = {-1: "-", 0: "0", 1: "+", None: "."}
_TARGET_OF = {char: target for target, char in _TARGETS.items()}
_ABSENT = "?"  # an indicator this instrument's answer did not have (a null value is "")


def price_on_tick(value: float | None, tick: Decimal) -> float | None:
    """A float price on the instrument's tick grid (None stays None, NaN becomes None)."""
    if value is None or not math.isfinite(value):
        return None
    ticks = round(value / float(tick))
    return float(Decimal(ticks) * tick)


def indicator_value(value) -> float | None:
    value = float(value)
    return round(value, INDICATOR_DECIMALS) if math.isfinite(value) else None


def encode(instruments: dict[str, dict]) -> dict:
    """Symbol -> detail dicts, as columns (an empty ledger detail stays ``{}``)."""
    if not instruments or FORMAT_KEY in instruments:
        return instruments
    symbols = list(instruments)
    rows = list(instruments.values())
    notes: dict[str, int] = {}
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row.get("indicators") or {}))
    return {
        FORMAT_KEY: FORMAT,
        "symbols": symbols,
        "instrument": _join(row.get("instrument") for row in rows),
        "target": "".join(_TARGETS[row.get("target")] for row in rows),
        "stop": _join(row.get("stop") for row in rows),
        "close": _join(row.get("close") for row in rows),
        "indicators": {
            name: ",".join(
                _number(row["indicators"][name]) if name in (row.get("indicators") or {}) else _ABSENT for row in rows
            )
            for name in names
        },
        "last_signalled": "".join(_TARGETS[row.get("last_signalled")] for row in rows),
        "signal": "".join("1" if row.get("signal") else "0" for row in rows),
        "caught_up_from": {str(i): row["caught_up_from"] for i, row in enumerate(rows) if row.get("caught_up_from")},
        "notes": _note_table(rows, notes),  # before "note", which numbers into it
        "note": ",".join(str(notes[row.get("note", "")]) for row in rows),
    }


def decode(value):
    """The columns back as symbol -> detail dicts; anything else (a row written before the columns,
    ``{}``) as it is."""
    if not isinstance(value, dict) or value.get(FORMAT_KEY) != FORMAT:
        return value
    symbols = value["symbols"]
    count = len(symbols)
    instrument = _split(value["instrument"], count, int)
    stop = _split(value["stop"], count, float)
    close = _split(value["close"], count, float)
    indicators = {name: text.split(",") for name, text in value["indicators"].items()}
    notes = value["notes"]
    note = value["note"].split(",")
    caught_up = value["caught_up_from"]
    out = {}
    for i, symbol in enumerate(symbols):
        out[symbol] = {
            "instrument": instrument[i],
            "target": _TARGET_OF[value["target"][i]],
            "stop": stop[i],
            "close": close[i],
            "indicators": {
                name: (float(column[i]) if column[i] else None)
                for name, column in indicators.items()
                if column[i] != _ABSENT
            },
            "last_signalled": _TARGET_OF[value["last_signalled"][i]],
            "signal": value["signal"][i] == "1",
            "caught_up_from": caught_up.get(str(i)),
            "note": notes[int(note[i])],
        }
    return out


def _note_table(rows: list[dict], notes: dict[str, int]) -> list[str]:
    for row in rows:
        notes.setdefault(row.get("note", ""), len(notes))
    return list(notes)


def _number(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a ledger number must be int or float, not {type(value).__name__}")
    return repr(value)  # the shortest text that reads back as the same number


def _join(values) -> str:
    return ",".join(_number(v) for v in values)


def _split(text: str, count: int, kind) -> list:
    if count == 0:
        return []
    return [kind(part) if part else None for part in text.split(",")]


class InstrumentDetailField(models.JSONField):
    """A JSONField that stores the per-instrument detail as columns and reads it back as dicts."""

    def get_prep_value(self, value):
        return super().get_prep_value(encode(value) if isinstance(value, dict) else value)

    def from_db_value(self, value, expression, connection):
        return decode(super().from_db_value(value, expression, connection))


def indicators_of(value, symbol: str) -> dict | None:
    """One instrument's indicator values from a stored detail as the database holds it (columns, or
    a row written before them), without building the other instruments' dicts: a price chart reads
    one instrument over many rows of a strategy with hundreds. None when the row has no detail for it."""
    if not isinstance(value, dict):
        return None
    if value.get(FORMAT_KEY) != FORMAT:
        return (value.get(symbol) or {}).get("indicators")
    try:
        i = value["symbols"].index(symbol)
    except ValueError:
        return None
    out = {}
    for name, column in value["indicators"].items():
        cell = column.split(",")[i]
        if cell != _ABSENT:
            out[name] = float(cell) if cell else None
    return out
