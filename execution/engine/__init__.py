"""From a signal to its deliveries: ``delivery`` (one row per mapped account, decided exactly once,
re-driven by the sweeper). The bar's evaluation is in ``execution.services.engine``."""
