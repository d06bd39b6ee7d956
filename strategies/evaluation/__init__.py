"""Evaluating strategies on a bar, read top-down:

- ``bar``: a timeframe's strategies on one bar, from candles to what each strategy did (its ledger
  row and its target changes);
- ``pairs``: one strategy on one instrument's candles (inline or in an evaluation process);
- ``data_checks``: the candles a bar may be evaluated on;
- ``rule``: the level-triggered rule that turns a desired target into a signal, and its window.

Pure of the database: the engine reads what it needs (last signals, first evaluated bar) through
the selectors, and writes the ledger through the services. README, "How a bar is evaluated".
"""

from .bar import (
    EXTRA_HISTORY_BARS,
    BarContext,
    EvaluationReport,
    StrategyEvaluation,
    TargetChange,
    evaluate_bar,
    to_price,
)
from .data_checks import candle_problem
from .pairs import Chunk, InstrumentRef, Job, PairResult, evaluate_chunk, output_problem
from .rule import Decision, catch_up_window_start, decide

__all__ = [
    "EXTRA_HISTORY_BARS",
    "BarContext",
    "Chunk",
    "Decision",
    "EvaluationReport",
    "InstrumentRef",
    "Job",
    "PairResult",
    "StrategyEvaluation",
    "TargetChange",
    "candle_problem",
    "catch_up_window_start",
    "decide",
    "evaluate_bar",
    "evaluate_chunk",
    "output_problem",
    "to_price",
]
