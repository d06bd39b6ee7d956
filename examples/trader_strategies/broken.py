"""A plugin written for an older interface: the system refuses it with a message and runs on."""

from strategies.library import Strategy, register


@register
class OldStyle(Strategy):
    key = "old_style"
    label = "Written for interface 1"
    interface_version = 1

    @property
    def warmup_bars(self) -> int:
        return 2

    def compute(self, candles):
        raise NotImplementedError
