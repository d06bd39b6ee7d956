from django.core.management.base import BaseCommand

from execution.engine.schedules import ensure_beat_schedules


class Command(BaseCommand):
    help = "Create the beat schedules for every timeframe. Safe to re-run: existing ones are left as they are."

    def handle(self, *args, **options):
        created = ensure_beat_schedules()
        if created:
            for name in created:
                self.stdout.write(f"created {name}")
        else:
            self.stdout.write("All schedules exist; nothing changed.")
