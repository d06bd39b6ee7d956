from django.core.management.base import BaseCommand, CommandError

from execution.operations.emergency import kill_switch_reset


class Command(BaseCommand):
    help = "Re-arm after an emergency stop: the kill switch goes off and the strategy schedules come back."

    def add_arguments(self, parser):
        parser.add_argument("--reason", required=True, help="Why; recorded in the risk log with the time")

    def handle(self, *args, reason, **options):
        if not reason.strip():
            raise CommandError("--reason must say why the kill switch is reset.")
        kill_switch_reset(reason=f"{reason.strip()} (from the command line)")
        self.stdout.write("Kill switch reset. The engine stays stopped: start it with `manage.py trading start`.")
