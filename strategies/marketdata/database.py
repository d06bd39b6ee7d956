"""Market data read from stored candles (``strategies.models.Candle``).

Django models are imported lazily inside the methods, so importing this module needs no
configured Django. A stored bar counts as completed when its close, per the market calendar,
is at or before ``end``; for "1d" any start on the day (Kite stamps day candles at 00:00)
closes at that day's session close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd

from strategies.calendar import KOLKATA, TIMEFRAME_MINUTES, MarketCalendar, to_market_time

from .base import Candles, InstrumentLike, MarketDataSource, MarketDataUnavailable

CANDLE_COLUMNS = ("open", "high", "low", "close", "volume")


class DatabaseMarketData(MarketDataSource):
    label = "database"

    def __init__(self, calendar: MarketCalendar | None = None, *, candle_source: str | None = None) -> None:
        self.calendar = calendar if calendar is not None else MarketCalendar()
        self.follows_exchange_calendar = not self.calendar.around_the_clock
        # Only candles stored by this source (e.g. "kite" for the Kite cache); None reads them all.
        self.candle_source = candle_source

    def _stored(self, instrument: InstrumentLike):
        from strategies.models import Candle

        stored = Candle.objects.filter(instrument__instrument_token=instrument.instrument_token)
        return stored.filter(source=self.candle_source) if self.candle_source else stored

    def _is_complete(self, timeframe: str, start: datetime, end: datetime) -> bool:
        try:
            close = self.calendar.bar_close(timeframe, start)
        except ValueError:
            # A stored bar outside the calendar's sessions: judge by its nominal length.
            close = to_market_time(start) + self.calendar.bar_length(timeframe)
        return close <= end

    def candles(self, instrument: InstrumentLike, timeframe: str, end: datetime, count: int) -> pd.DataFrame:
        if timeframe not in TIMEFRAME_MINUTES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        end = to_market_time(end)
        if count <= 0:
            return _empty_frame()
        rows = list(
            self._stored(instrument)
            .filter(timeframe=timeframe, start__lte=end)
            .order_by("-start")
            .values_list("start", "open", "high", "low", "close", "volume")[: count + 2]
        )
        rows = [r for r in rows if self._is_complete(timeframe, r[0], end)][:count]
        if not rows:
            raise MarketDataUnavailable(
                f"no stored {timeframe} candles for {_name(instrument)} ending at or before "
                f"{end.isoformat()}: fetch or import candles first"
            )
        rows.reverse()
        index = pd.DatetimeIndex([r[0] for r in rows], name="start").tz_convert(KOLKATA)
        data = np.array([[float(v) for v in r[1:]] for r in rows], dtype=np.float64)
        return pd.DataFrame(data, index=index, columns=list(CANDLE_COLUMNS))

    def candle_arrays(
        self, instruments: Sequence[InstrumentLike], timeframe: str, end: datetime, counts: Mapping[int, int]
    ) -> dict[int, Candles | str]:
        """Every instrument's candles in one query, cast to floats by the database.

        It reads every stored candle in the span of the bars the market calendar expects (the
        longest look-back asked for), so one stored where the calendar has none, or twice, shows
        up for the evaluation's checks rather than hiding a gap.
        """
        from django.db import connections
        from django.db.models import BigIntegerField, FloatField
        from django.db.models.functions import Cast, Extract

        from strategies.models import Candle, Instrument

        if timeframe not in TIMEFRAME_MINUTES:
            raise ValueError(f"unknown timeframe {timeframe!r}")
        end = to_market_time(end)
        starts = self.calendar.bar_starts_before(timeframe, end, max(counts.values(), default=0))
        tokens = [int(i.instrument_token) for i in instruments]
        if not starts:
            return {token: "no completed bar" for token in tokens}
        last_close = self.calendar.last_bar_close(timeframe, end)
        # Kite stamps day candles at 00:00, the calendar at the session open.
        first = starts[0] if timeframe != "1d" else starts[0].replace(hour=0, minute=0)
        # By instrument id when the caller knows it: the (instrument, timeframe, start) index then
        # serves each instrument's range in order, with no join and no sort.
        ids = {getattr(i, "pk", None): int(i.instrument_token) for i in instruments}
        if None in ids:
            ids = dict(Instrument.objects.filter(instrument_token__in=tokens).values_list("pk", "instrument_token"))
        stored = Candle.objects.filter(
            instrument_id__in=list(ids), timeframe=timeframe, start__gte=first, start__lt=last_close
        )
        if self.candle_source:
            stored = stored.filter(source=self.candle_source)
        columns = {f"f_{name}": Cast(name, FloatField()) for name in ("open", "high", "low", "close", "volume")}
        # Parsing 100,000 timestamps was most of a bar's read: PostgreSQL sends seconds instead.
        epoch = connections[stored.db].vendor == "postgresql"
        if epoch:
            columns["t"] = Cast(Extract("start", "epoch", tzinfo=UTC), BigIntegerField())
        query = (
            stored.annotate(**columns)
            .order_by("instrument_id", "start")
            .values_list("instrument_id", "t" if epoch else "start", *(n for n in columns if n.startswith("f_")))
        )
        if epoch:  # numbers only: the rows as the driver gives them, without the ORM's per-value converters
            sql, params = query.query.sql_with_params()
            with connections[stored.db].cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
        else:
            rows = list(query)
        out: dict[int, Candles | str] = {}
        if rows:
            pk_col = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
            if epoch:
                start_col = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows)) * 1_000_000_000
            else:
                start_col = pd.DatetimeIndex([r[1] for r in rows]).as_unit("ns").asi8
            values = np.array([r[2:] for r in rows], dtype=np.float64)
            bounds = np.flatnonzero(np.diff(pk_col)) + 1
            for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(rows)]]), strict=True):
                arrays = (np.ascontiguousarray(values[lo:hi, i]) for i in range(5))
                out[ids[int(pk_col[lo])]] = Candles(start_col[lo:hi], *arrays)
        none = f"no data: no stored {timeframe} candles in the look-back before {end:%Y-%m-%d %H:%M}"
        for token in tokens:
            out.setdefault(token, none)
        return out

    def ltp(self, instruments: list[InstrumentLike], at: datetime | None = None) -> dict[int, Decimal]:
        at = to_market_time(at) if at is not None else None
        out: dict[int, Decimal] = {}
        missing: list[str] = []
        for instrument in instruments:
            base = self._stored(instrument)
            if at is not None:
                base = base.filter(start__lte=at)
            row = base.filter(timeframe="1m").order_by("-start").values_list("close", flat=True).first()
            if row is None:
                row = base.order_by("-start").values_list("close", flat=True).first()
            if row is None:
                missing.append(_name(instrument))
            else:
                out[int(instrument.instrument_token)] = Decimal(row)
        if missing:
            when = f" at or before {at.isoformat()}" if at is not None else ""
            raise MarketDataUnavailable(f"no stored candles{when} for {', '.join(missing)}")
        return out


def _name(instrument: InstrumentLike) -> str:
    exchange = getattr(instrument, "exchange", "?")
    symbol = getattr(instrument, "tradingsymbol", "?")
    return f"{exchange}:{symbol} (token {instrument.instrument_token})"


def _empty_frame() -> pd.DataFrame:
    index = pd.DatetimeIndex([], dtype="datetime64[ns, Asia/Kolkata]", name="start")
    return pd.DataFrame({c: pd.Series([], dtype="float64") for c in CANDLE_COLUMNS}, index=index)
