"""A trader's own strategies, outside the project: an example plugin package.

Make it importable (``pip install -e`` your package, or ``PYTHONPATH=examples``) and list its
modules in STRATEGY_MODULES, e.g. ``STRATEGY_MODULES=trader_strategies.momentum``.
"""
