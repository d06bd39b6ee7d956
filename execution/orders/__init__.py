"""The order path, read top-down: ``locks`` (the account lock), ``book`` (what an account holds and
has working), ``decision`` (the one service that decides every order under the account lock, calling
``risk.decision``), ``placement`` (sending a decided order to its broker once, after commit) and
``fills`` (broker trades into the position ledger)."""
