from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from execution.engine import switch as engine_switch
from risk import selectors as risk_selectors
from risk import services as risk_services


class Command(BaseCommand):
    help = "Start, stop or show the trading engine."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["start", "stop", "status"])
        parser.add_argument("--reason", default="", help="Recorded with the change")

    def handle(self, *args, action, reason, **options):
        if action == "start":
            try:
                engine_switch.engine_start(reason=reason or "started from the command line")
            except PermissionError as exc:
                raise CommandError(str(exc))
        elif action == "stop":
            risk_services.engine_stop(reason=reason or "stopped from the command line")
        state = risk_selectors.engine_state()
        status = "RUNNING" if state.running else "STOPPED"
        if state.kill_switch:
            status += " (emergency stop active: kill switch on)"
        # Stored in UTC; shown in India time like the dashboard and the API.
        since = timezone.localtime(state.changed_at)
        self.stdout.write(f"Engine: {status}  since {since:%Y-%m-%d %H:%M:%S %Z} ({since:%z})  {state.reason}")
