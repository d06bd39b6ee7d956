"""From a bar to its deliveries, read top-down: ``bar`` (beat's tick: evaluate a timeframe, turn
changed targets into signals, fan a signal out), ``signals`` (every signal enters here: the bar,
manual, ``webhooks``), ``delivery`` (one row per mapped account, decided exactly once, re-driven by
the sweeper), ``schedules`` (the beat schedules that drive it all)."""
