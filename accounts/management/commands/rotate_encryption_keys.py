from django.core.management.base import BaseCommand, CommandError

from accounts.services import account_secrets_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored broker secret (api_secret, access token) under the newest key of "
        "FIELD_ENCRYPTION_KEYS. Put the new key first, keep the old ones after it, run this, then drop the old keys."
    )

    def handle(self, *args, **options):
        result = account_secrets_rotate()
        if result.failures:
            raise CommandError(
                f"Re-encrypted {result.rotated} secrets, but none of the configured keys reads these: "
                f"{'; '.join(result.failures)}. Add the key they were written with to FIELD_ENCRYPTION_KEYS "
                "and run again, or enter those secrets again in the admin."
            )
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {result.rotated} secrets under the newest key."))
