from django.apps import AppConfig
from django.core import checks


class StrategiesConfig(AppConfig):
    name = "strategies"

    def ready(self) -> None:
        checks.register(strategy_plugins_check)


def strategy_plugins_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """``manage.py check`` (and every server start) names each refused strategy plugin and why."""
    from .library import refused_plugins

    return [
        checks.Warning(
            f"Strategy plugin {source} was refused: {reason}",
            hint='Fix the plugin (see README, "Your own strategies"); the other strategies run without it.',
            id="strategies.W001",
        )
        for source, reason in refused_plugins().items()
    ]
