"""Reads for execution, one module per concern; everything is importable from here.

core: the signal an order task reads, open positions.  reports: the dashboard's and API's
aggregates, cut from the account books (``execution.orders.book``: every figure is defined there).
risk_usage: per-account risk used today against each limit.  charts: an instrument's price chart.
operations: emergency stops, flattens and square-offs, their progress and per-account outcome.
"""

from .charts import chart_strategies, price_chart
from .core import *  # noqa: F403
from .core import __all__ as _core_all
from .operations import *  # noqa: F403
from .operations import __all__ as _operations_all
from .reports import *  # noqa: F403
from .reports import __all__ as _reports_all
from .risk_usage import *  # noqa: F403
from .risk_usage import __all__ as _risk_usage_all

__all__ = (
    ["chart_strategies", "price_chart"]
    + list(_core_all)
    + list(_operations_all)
    + list(_reports_all)
    + list(_risk_usage_all)
)
