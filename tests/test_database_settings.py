"""How long PostgreSQL connections live, from the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def conn_max_age(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE")}
    environment.update(
        DJANGO_SETTINGS_MODULE="tradingsite.settings", DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused", **env
    )
    return subprocess.run(  # noqa: S603 (fixed argv: this interpreter)
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.DATABASES['default']['CONN_MAX_AGE'])",
        ],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_connections_live_as_long_as_their_worker_unless_a_limit_is_set():
    """A limit of about a bar made every worker thread reconnect at each 1m bar, on the order path."""
    assert conn_max_age().stdout.strip() == "None"
    assert conn_max_age(CONN_MAX_AGE="300").stdout.strip() == "300"


def test_a_connection_age_that_is_not_a_number_is_refused_by_name():
    refused = conn_max_age(CONN_MAX_AGE="ten minutes")
    assert refused.returncode != 0
    assert "CONN_MAX_AGE must be a number of seconds or 'none'" in refused.stderr
