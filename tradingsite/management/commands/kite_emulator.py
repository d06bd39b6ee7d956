import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tradingsite.benchmarks import emulator


class Command(BaseCommand):
    help = (
        "Run the local Kite Connect emulator (tests/kite_emulator) as a standalone server, so the whole "
        "system can be tried against it: set KITE_API_ROOT and KITE_LOGIN_URL to it (see docs/kite.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--accounts",
            metavar="FILE",
            help='JSON file: a list of accounts ({"api_key", "api_secret", "user_id", ...}) or '
            '{"accounts": [...], "postback_url": ..., "default_redirect_url": ...}. '
            "Default: one account, api_key emu_api_key, api_secret emu_api_secret, user AB1234.",
        )
        parser.add_argument(
            "--redirect-url",
            default="http://127.0.0.1:8000/accounts/kite/callback/",
            help="Where the emulator's login page sends the browser back with a request_token, for accounts "
            "without their own redirect_url (default: %(default)s, the callback of `make run`).",
        )
        parser.add_argument("--postback-url", default=None, help="Where order postbacks are sent, if anywhere.")
        parser.add_argument("--no-rate-limits", action="store_true", help="Do not answer 429 over Kite's limits.")

    def handle(self, *args, host, port, accounts, redirect_url, postback_url, no_rate_limits, **options):
        config = {"accounts": None, "default_redirect_url": redirect_url}
        if accounts:
            config.update(_read_accounts(Path(accounts)))
        try:
            if config["accounts"] is None:
                config["accounts"] = [emulator.demo_account()]
            emulator.run_standalone(
                host,
                port,
                config,
                postback_url=postback_url,
                rate_limits_enabled=not no_rate_limits,
                verbose=options["verbosity"] > 1,
            )
        except emulator.EmulatorMissing as exc:
            raise CommandError(
                f"The Kite emulator is not available ({exc}): it lives in tests/kite_emulator/ of the source "
                f"tree, which is missing under {settings.BASE_DIR}."
            )
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}")


def _read_accounts(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CommandError(f"--accounts: cannot read {path}: {exc}")
    except ValueError as exc:
        raise CommandError(f"--accounts: {path} is not JSON: {exc}")
    if isinstance(data, list):
        return {"accounts": data}
    if isinstance(data, dict) and isinstance(data.get("accounts"), list):
        return data
    raise CommandError(f'--accounts: {path} must hold a list of accounts or {{"accounts": [...]}}.')
