from django.apps import AppConfig


class TradingsiteConfig(AppConfig):
    name = "tradingsite"
    verbose_name = "Trading site"

    def ready(self) -> None:
        from . import audit

        # Configuration changes are audited whatever path saves them (tradingsite/audit.py).
        audit.register_audited_models()
        audit.install_command_context()
        audit.install_task_context()
