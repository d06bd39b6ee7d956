"""Operations on the book, each run as a task with an ``Operation`` row an operator can poll
(``runs``): ``squareoff`` (cancel working orders, close positions: account flatten, strategy stop,
MIS square-off), ``emergency`` (kill switch + flatten of everything), ``daily_loss`` (mark to market,
halt and flatten an account past its limit). Their exits are decided by the one order decision
(``execution.orders.decision``)."""
