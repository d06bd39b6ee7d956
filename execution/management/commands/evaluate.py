from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from execution.engine.bar import fan_out_targets, run_timeframe
from execution.engine.fanout import execute_signal_for_account
from execution.models import Order
from strategies.models import Timeframe
from strategies.selectors import market_data_source


class Command(BaseCommand):
    help = (
        "Evaluate one bar of a timeframe, synchronously (even with the engine stopped), and print the "
        "signals and orders it made: the bar that closed last, or with --at the one that closed at or just "
        "before that time. The bar lands in the evaluation ledger. Orders still pass every risk check. "
        "A bar older than the latest closed one is a replay: what it would signal is printed and recorded in "
        "the ledger, and nothing is sent to any account unless --trade is given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--timeframe", required=True, choices=Timeframe.values)
        parser.add_argument(
            "--at",
            metavar="ISO8601",
            help="Evaluate the bar that closed at or just before this time, e.g. 2026-11-20T10:05+05:30 "
            "(no offset: India time).",
        )
        parser.add_argument(
            "--trade",
            action="store_true",
            help="With --at on an earlier bar: send its signals to the accounts now, at today's prices.",
        )

    def handle(self, *args, timeframe, at=None, trade=False, **options):
        now = _parse_time(at) if at else None
        calendar = market_data_source().calendar
        latest = calendar.last_bar_close(timeframe, timezone.now())
        asked = calendar.last_bar_close(timeframe, now) if now else latest
        # An earlier bar's decision, sent now, would trade at today's prices on yesterday's reasons.
        replay = now is not None and asked is not None and latest is not None and asked < latest and not trade
        run = run_timeframe(timeframe=timeframe, now=now, force=True, send_signals=not replay)
        if run.skipped:
            self.stdout.write(f"Skipped: {run.skipped}")
            return
        closing = timezone.localtime(run.bar_close)
        self.stdout.write(f"Bar {timeframe} closing {closing:%Y-%m-%d %H:%M %Z}: {run.evaluated} strategies")
        for name, error in run.errors.items():
            self.stderr.write(self.style.ERROR(f"  {name}: {error}"))
        if replay:
            self.stdout.write("Replay of an earlier bar: nothing sent to any account (--trade sends it).")
            for change in run.would_signal:
                self.stdout.write(
                    f"Would signal {change.strategy.name} {change.instrument.kite_symbol} target {change.target:+d}"
                )
            if not run.would_signal:
                self.stdout.write("It would signal nothing.")
            return
        if not run.signals:
            self.stdout.write("No new signals.")
        for signal in run.signals:
            self.stdout.write(self.style.SUCCESS(f"Signal {signal}"))
            for account_id in fan_out_targets(signal_id=signal.id).account_ids:
                execute_signal_for_account(signal_id=signal.id, account_id=account_id)
            for order in Order.objects.filter(signal=signal).select_related("account").order_by("account__name"):
                line = f"  {order.account.name:<20} {order.leg:<5} {order.side:<4} {order.quantity:>6}  {order.status}"
                if order.average_price:
                    line += f" @ {order.average_price}"
                if order.status_message:
                    line += f"  ({order.status_message[:90]})"
                self.stdout.write(line)


def _parse_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--at {value!r} is not an ISO 8601 time, e.g. 2026-11-20T10:05+05:30") from None
    if timezone.is_naive(moment):
        from zoneinfo import ZoneInfo

        from django.conf import settings

        moment = moment.replace(tzinfo=ZoneInfo(settings.MARKET_TIME_ZONE))
    return moment
