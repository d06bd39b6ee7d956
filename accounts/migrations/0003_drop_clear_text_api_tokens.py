"""API tokens move to django-rest-knox (hashed at rest): the old tokens, stored in clear by
rest_framework.authtoken, are dropped with their table. Their holders ask for a new token."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_one_account_per_kite_identity")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]
