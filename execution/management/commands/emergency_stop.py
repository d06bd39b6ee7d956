import getpass
import socket

from django.core.management.base import BaseCommand

from execution.models import Order
from execution.operations.emergency import emergency_stop
from execution.operations.runs import default_reason


class Command(BaseCommand):
    help = (
        "EMERGENCY STOP: trip the global kill switch, stop the engine, disable the strategy schedules, cancel "
        "every open order and square off every position on every account. Runs the same operation as the "
        "API's and the dashboard's emergency stop, here, and waits for it, printing each step. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reason", default="", help="Why; recorded in the risk log with the time (default: who, from where)"
        )

    def handle(self, *args, reason, **options):
        origin = f"the command line ({getpass.getuser()}@{socket.gethostname()})"
        reason = f"{reason.strip()} (from {origin})" if reason.strip() else default_reason(actor=None, origin=origin)
        report = emergency_stop(reason=reason, origin=origin, progress=lambda line: self.stdout.write(f"  {line}"))
        self.stdout.write(report.summary)
        for order in Order.objects.filter(pk__in=[o.pk for o in report.flatten.failed_exits]).select_related(
            "account", "instrument"
        ):
            self.stderr.write(f"  still open: exit {order.side} {order.quantity} {order.instrument} on {order.account}")
        if report.flatten.failed_exits or report.flatten.not_cancelled:
            self.stderr.write("Some positions or orders are still open: check them, then run this command again.")
        operation = report.operation
        self.stdout.write(f"Operation #{operation.id}: {operation.state} (/api/system/operations/{operation.id})")
        self.stdout.write("To resume: `manage.py kill_switch_reset --reason ...`, then `manage.py trading start`.")
