"""Operations recorded before errors were data: each error string named its account in words
("<instrument> on account <id>: ..."); read that once here, so the reads only know the data form
({"account_id": ..., "message": ...})."""

import re

from django.db import migrations

_ON_ACCOUNT = re.compile(r" on account (\d+): ")


def errors_as_data(apps, schema_editor):
    Operation = apps.get_model("execution", "Operation")
    for operation in Operation.objects.exclude(report={}).iterator():
        errors = operation.report.get("errors") or []
        if not any(isinstance(e, str) for e in errors):
            continue
        records = []
        for error in errors:
            if not isinstance(error, str):
                records.append(error)
                continue
            match = _ON_ACCOUNT.search(error)
            if match:
                message = error[: match.start()] + ": " + error[match.end() :]
                records.append({"account_id": int(match.group(1)), "message": message})
            else:
                records.append({"account_id": None, "message": error})
        operation.report["errors"] = records
        operation.save(update_fields=["report"])


class Migration(migrations.Migration):
    dependencies = [
        ("execution", "0008_order_operation"),
    ]

    operations = [
        migrations.RunPython(errors_as_data, migrations.RunPython.noop),
    ]
