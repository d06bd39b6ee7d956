"""Broker secrets: encrypted at rest, rotatable, never shown back, required in production."""

import os
import subprocess

import pytest
from cryptography.fernet import Fernet
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from accounts import crypto
from accounts.models import Account
from tests.django_process import run_django

from .conftest import kite_account

pytestmark = pytest.mark.django_db
SECRET, TOKEN = "app-secret-Zq81", "access-token-77xy"


def stored_columns(account: Account) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT api_secret_encrypted, access_token_encrypted FROM accounts_account WHERE id = %s", [account.pk]
        )
        return cursor.fetchone()


def logged_in_account(**fields) -> Account:
    from django.utils import timezone

    account = kite_account(api_secret=SECRET, **fields)
    account.set_access_token(TOKEN, expires_at=timezone.now() + timezone.timedelta(hours=1))
    account.save()
    return account


def test_the_database_never_holds_a_secret_in_plaintext(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = logged_in_account()
    secret_column, token_column = stored_columns(account)
    assert SECRET not in secret_column and TOKEN not in token_column
    assert SECRET not in token_column and TOKEN not in secret_column
    account = Account.objects.get(pk=account.pk)
    assert (account.get_api_secret(), account.get_access_token()) == (SECRET, TOKEN)


def test_rotation_reencrypts_under_the_new_key_and_the_old_one_is_no_longer_needed(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    account = logged_in_account()
    before = stored_columns(account)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # new key in front: the old one still decrypts
    assert Account.objects.get(pk=account.pk).get_api_secret() == SECRET

    call_command("rotate_encryption_keys", stdout=open(os.devnull, "w"))

    after = stored_columns(account)
    assert after[0] != before[0] and after[1] != before[1]
    settings.FIELD_ENCRYPTION_KEYS = [new]  # old key dropped
    account = Account.objects.get(pk=account.pk)
    assert (account.get_api_secret(), account.get_access_token()) == (SECRET, TOKEN)
    settings.FIELD_ENCRYPTION_KEYS = [old]
    with pytest.raises(crypto.SecretDecryptionError):
        Account.objects.get(pk=account.pk).get_api_secret()


def test_rotation_moves_secrets_written_before_any_key_was_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = []  # the embedded default's fallback key
    account = logged_in_account()
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new]
    call_command("rotate_encryption_keys", stdout=open(os.devnull, "w"))
    assert Account.objects.get(pk=account.pk).get_api_secret() == SECRET


def test_rotation_names_the_secrets_no_key_can_read_and_still_rotates_the_others(settings):
    lost, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [lost]
    orphan = kite_account(name="Orphan", api_key="k9", user_id="ZZ9999", api_secret="x")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    healthy = kite_account(name="Healthy", api_key="k2", user_id="AB1235", api_secret=SECRET)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), new]
    with pytest.raises(CommandError, match="Orphan: api_secret"):
        call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert Account.objects.get(pk=healthy.pk).get_api_secret() == SECRET
    assert orphan.api_secret_encrypted == stored_columns(orphan)[0]  # left as it was


def run_production_settings(**env) -> subprocess.CompletedProcess:
    return run_django(
        "print('started')",
        drop=("FIELD_ENCRYPTION_KEYS",),
        DJANGO_SETTINGS_MODULE="tradingsite.settings_production",
        SECRET_KEY="s" * 50,
        **env,
    )


def test_production_settings_refuse_to_start_without_encryption_keys():
    missing = run_production_settings(FIELD_ENCRYPTION_KEYS="")
    assert missing.returncode != 0
    assert "ImproperlyConfigured" in missing.stderr and "FIELD_ENCRYPTION_KEYS is required" in missing.stderr

    invalid = run_production_settings(FIELD_ENCRYPTION_KEYS="not-a-key")
    assert invalid.returncode != 0 and "key 1 is not a Fernet key" in invalid.stderr

    ok = run_production_settings(FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode())
    assert ok.returncode == 0, ok.stderr
    assert "started" in ok.stdout


def test_the_admin_shows_only_whether_secrets_are_set(settings, admin_client):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = logged_in_account()
    ciphertexts = stored_columns(account)
    pages = [
        admin_client.get(reverse("admin:accounts_account_change", args=[account.pk])),
        admin_client.get(reverse("admin:accounts_account_changelist")),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        for value in (SECRET, TOKEN, *ciphertexts):
            assert value not in html
    change_page = pages[0].content.decode().lower()
    assert "api_secret set" in change_page and "access token set" in change_page


def admin_form_data(page) -> dict:
    """What the browser would post back from an admin change page, inline formsets included."""
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    for inline in page.context["inline_admin_formsets"]:
        formset = inline.formset
        data.update({f"{formset.prefix}-{k}": v for k, v in formset.management_form.initial.items()})
        data[f"{formset.prefix}-TOTAL_FORMS"] = formset.initial_form_count()
        for sub in formset.initial_forms:
            data.update({sub.add_prefix(n): sub[n].value() for n in sub.fields if sub[n].value() is not None})
    return data


def test_saving_the_admin_form_with_a_blank_secret_keeps_the_stored_one(settings, admin_client):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    account = logged_in_account()
    url = reverse("admin:accounts_account_change", args=[account.pk])
    data = admin_form_data(admin_client.get(url))
    data["api_secret"] = ""
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["errors"]
    assert Account.objects.get(pk=account.pk).get_api_secret() == SECRET
