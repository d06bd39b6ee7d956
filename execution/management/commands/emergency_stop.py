import getpass
import socket

from django.core.management.base import BaseCommand

from execution.operations.emergency import emergency_stop
from execution.operations.runs import default_reason


class Command(BaseCommand):
    help = (
        "EMERGENCY STOP: trip the global kill switch, stop the engine, disable the strategy schedules, cancel "
        "every open order and square off every position on every account. Safe to run twice."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--reason", default="", help="Why; recorded in the risk log with the time (default: who, from where)"
        )

    def handle(self, *args, reason, **options):
        origin = f"the command line ({getpass.getuser()}@{socket.gethostname()})"
        reason = f"{reason.strip()} (from {origin})" if reason.strip() else default_reason(actor=None, origin=origin)
        report = emergency_stop(reason=reason)
        self.stdout.write(report.summary)
        for order in report.flatten.exit_orders:
            self.stdout.write(
                f"  exit {order.side} {order.quantity} {order.instrument} on {order.account}: {order.status}"
                + (f" - {order.status_message}" if order.status_message else "")
            )
        for order_id, why in report.flatten.not_cancelled.items():
            self.stdout.write(f"  order #{order_id} not cancelled: {why}")
        for position_id, why in report.flatten.skipped.items():
            self.stdout.write(f"  position #{position_id} skipped: {why}")
        if report.flatten.failed_exits or report.flatten.not_cancelled:
            self.stderr.write("Some positions or orders are still open: check them, then run this command again.")
        self.stdout.write("To resume: `manage.py kill_switch_reset --reason ...`, then `manage.py trading start`.")
