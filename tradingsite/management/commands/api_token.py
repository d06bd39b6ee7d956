"""API tokens from the command line: issue one (shown once), list them without their values, revoke."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from knox.models import AuthToken

from tradingsite.api import tokens


class Command(BaseCommand):
    help = "Issue, list or revoke API tokens (hashed at rest: a token is printed once, when issued)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        issue = actions.add_parser("issue", help="Issue a token for a user and print it once")
        issue.add_argument("username")
        listing = actions.add_parser("list", help="List tokens by id, owner and dates (never their values)")
        listing.add_argument("username", nargs="?")
        revoke = actions.add_parser("revoke", help="Revoke one token by its id (from 'list')")
        revoke.add_argument("token_id")
        revoke_all = actions.add_parser("revoke-all", help="Revoke every token of a user")
        revoke_all.add_argument("username")

    def handle(self, *args, action: str, **options):
        if action == "issue":
            issued = tokens.api_token_issue(user=self._user(options["username"]))
            expiry = (
                f"expires {timezone.localtime(issued.expiry):%Y-%m-%d %H:%M %Z}" if issued.expiry else "never expires"
            )
            self.stdout.write(f"Token {issued.id} for {options['username']}, {expiry}. Shown once, keep it now:")
            self.stdout.write(issued.token)
        elif action == "list":
            listed = AuthToken.objects.select_related("user").order_by("-created")
            if options["username"]:
                listed = listed.filter(user=self._user(options["username"]))
            for token in listed:
                expiry = f"{timezone.localtime(token.expiry):%Y-%m-%d %H:%M}" if token.expiry else "never"
                self.stdout.write(
                    f"{tokens.token_id(token)}  {token.user.get_username():<20} "
                    f"created {timezone.localtime(token.created):%Y-%m-%d %H:%M %Z}  expires {expiry}"
                )
        elif action == "revoke":
            if not tokens.api_token_revoke(tokens=AuthToken.objects.all(), id=options["token_id"]):
                raise CommandError(f"No token with id {options['token_id']!r} (ids are listed by 'api_token list').")
            self.stdout.write(f"Token {options['token_id']} revoked.")
        else:
            count = tokens.api_tokens_revoke_all(user=self._user(options["username"]))
            self.stdout.write(f"{count} token(s) of {options['username']} revoked.")

    def _user(self, username: str):
        try:
            return get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
