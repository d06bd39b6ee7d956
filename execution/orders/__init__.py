"""The order path, read top-down: ``book`` (what an account holds and has working), ``decision``
(the one service that decides every order under the account lock, calling ``risk.decision``)."""
