"""Operations on the book that run as tasks with a status an operator can poll: the emergency stop
(``emergency``). Their exits are decided by the one order decision (``execution.orders.decision``)."""
