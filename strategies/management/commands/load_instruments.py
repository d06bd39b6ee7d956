from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from strategies.services import InstrumentFileError, instruments_load_csv

DEMO_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "demo_instruments_nse.csv"


class Command(BaseCommand):
    help = "Load instruments from a Kite instruments CSV (default: the demo's small NSE equity list)."

    def add_arguments(self, parser):
        parser.add_argument("path", nargs="?", default=str(DEMO_FILE), help="Kite instruments CSV file")
        parser.add_argument("--exchange", action="append", help="Only rows of this exchange (repeatable)")

    def handle(self, *args, path, exchange, **options):
        file = Path(path)
        if not file.is_file():
            raise CommandError(f"No such file: {file}")
        try:
            created, updated = instruments_load_csv(
                text=file.read_text(encoding="utf-8"), exchanges=set(exchange) if exchange else None
            )
        except InstrumentFileError as exc:
            raise CommandError(f"{file}: {exc}")
        self.stdout.write(self.style.SUCCESS(f"Instruments: {created} created, {updated} updated from {file}"))
