from django.core.management.base import BaseCommand

from execution.demo import demo_seed


class Command(BaseCommand):
    help = "Seed paper accounts, demo strategies and mappings, and an admin user, if the database is empty."

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")

    def handle(self, *args, admin_username, **options):
        result = demo_seed(admin_username=admin_username)
        if not result.created:
            self.stdout.write("Accounts already exist: the demo seed left the database as it was.")
            return
        self.stdout.write(self.style.SUCCESS("Demo seeded: 4 paper accounts, 4 strategies, 9 mappings."))
        if result.admin_password:
            self.stdout.write(
                self.style.WARNING(
                    f"Admin login: {result.admin_username} / {result.admin_password}\n"
                    "This password is shown once and not stored anywhere in clear. Change it in the admin."
                )
            )
