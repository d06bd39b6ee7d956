"""Writes for execution. Each module holds one part of the path of a bar."""

from ..orders.fills import fill_record, mark_open_positions, mark_to_market
from ..orders.placement import execute_signal_for_account, execute_signal_for_accounts, place_order
from .daily_loss import daily_loss_enforce, mark_to_market_tick
from .emergency import emergency_stop, kill_switch_reset
from .engine import BarRun, fan_out_targets, run_timeframe
from .equity import equity_snapshots_compact, equity_snapshots_record
from .mappings import mapping_save, mappings_total_allocation
from .orders_state import order_transition
from .signals import manual_signal_submit, signal_submit
from .squareoff import flatten, intraday_square_off

__all__ = [
    "BarRun",
    "daily_loss_enforce",
    "emergency_stop",
    "equity_snapshots_compact",
    "equity_snapshots_record",
    "flatten",
    "intraday_square_off",
    "kill_switch_reset",
    "mark_to_market_tick",
    "execute_signal_for_account",
    "execute_signal_for_accounts",
    "fan_out_targets",
    "fill_record",
    "manual_signal_submit",
    "mapping_save",
    "mappings_total_allocation",
    "mark_open_positions",
    "mark_to_market",
    "order_transition",
    "place_order",
    "run_timeframe",
    "signal_submit",
]
