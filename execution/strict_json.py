"""JSON from outside (API bodies, Kite postbacks) parsed with limits, so hostile input is a 400.

Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (a float infinity), and a deeply
nested body exhausts its recursion (``RecursionError``, which views do not expect: a 500). Here
each of those is a ``JSONRefused`` naming what was wrong. Lives at the bottom of the import graph
so the API's parser (tradingsite) and the postback view (execution) share one definition.
"""

from __future__ import annotations

import json
import math

from django.conf import settings


class JSONRefused(ValueError):
    """The body is not JSON this system accepts; the message says why."""


def _no_constant(name: str):
    raise JSONRefused(f"{name} is not a number this system accepts: send a finite number.")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise JSONRefused(f"{text} is out of range: send a finite number.")
    return value


def max_depth() -> int:
    return settings.JSON_MAX_DEPTH


def loads(text: str | bytes, *, depth_limit: int | None = None):
    """Parse ``text``; refuse non-finite numbers and nesting deeper than ``JSON_MAX_DEPTH``."""
    limit = max_depth() if depth_limit is None else depth_limit
    try:
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except RecursionError:
        raise JSONRefused(f"The JSON is nested more than {limit} levels deep.") from None
    except JSONRefused:
        raise
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError, over-long integers
        raise JSONRefused(f"The body is not valid JSON: {exc}") from None
    if _depth_exceeds(data, limit):
        raise JSONRefused(f"The JSON is nested more than {limit} levels deep.")
    return data


def _depth_exceeds(data, limit: int) -> bool:
    # Iterative, so the check itself cannot hit the recursion limit.
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
