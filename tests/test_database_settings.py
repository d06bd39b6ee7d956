"""Settings read from the environment: how long PostgreSQL connections live, the order fan-out."""

import subprocess

from tests.django_process import run_django


def conn_max_age(**env) -> subprocess.CompletedProcess:
    return run_django(
        "from django.conf import settings; print(settings.DATABASES['default']['CONN_MAX_AGE'])",
        drop=("CONN_MAX_AGE",),
        DJANGO_SETTINGS_MODULE="tradingsite.settings",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/unused",
        **env,
    )


def test_connections_live_as_long_as_their_worker_unless_a_limit_is_set():
    """A limit of about a bar made every worker thread reconnect at each 1m bar, on the order path."""
    assert conn_max_age().stdout.strip() == "None"
    assert conn_max_age(CONN_MAX_AGE="300").stdout.strip() == "300"


def test_a_connection_age_that_is_not_a_number_is_refused_by_name():
    refused = conn_max_age(CONN_MAX_AGE="ten minutes")
    assert refused.returncode != 0
    assert "CONN_MAX_AGE must be a number of seconds or 'none'" in refused.stderr


def test_an_order_batch_or_thread_count_below_one_is_refused_by_name():
    for name in ("ORDER_FANOUT_BATCH", "ORDER_THREADS"):
        refused = run_django("", drop=(name,), DJANGO_SETTINGS_MODULE="tradingsite.settings", **{name: "0"})
        assert refused.returncode != 0
        assert "ORDER_FANOUT_BATCH and ORDER_THREADS must be at least 1" in refused.stderr
