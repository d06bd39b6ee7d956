from django.core.management.base import BaseCommand, CommandError

from strategies.marketdata import MarketDataUnavailable
from strategies.services import InstrumentFileError, instruments_sync_kite


class Command(BaseCommand):
    help = (
        "Download Kite's instrument list through the data account's session and create or update the "
        "instruments (lot size, tick size, tokens). Run it each morning after the data account's login."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--exchange",
            action="append",
            help="Only this exchange, e.g. NSE (repeatable). Default: every exchange, a large download.",
        )

    def handle(self, *args, exchange, **options):
        for name in exchange or [None]:
            label = name.upper() if name else "all exchanges"
            try:
                created, updated = instruments_sync_kite(exchange=name.upper() if name else None)
            except MarketDataUnavailable as exc:
                raise CommandError(f"Kite instruments ({label}): {exc}")
            except InstrumentFileError as exc:
                raise CommandError(f"Kite instruments ({label}) are not in the expected format: {exc}")
            self.stdout.write(self.style.SUCCESS(f"Instruments ({label}): {created} created, {updated} updated"))
