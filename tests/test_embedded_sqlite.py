"""The embedded default (SQLite) runs the same order path as production.

The suite runs on PostgreSQL; the order path's plain SQL (execution/orders/sql.py) and the ORM's
SQLite quirks (decimals as floats, naive datetimes) are checked here by running the tests of
that path again in a subprocess on a fresh SQLite database.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ORDER_PATH_TESTS = [
    "tests/execution/test_engine.py",
    "tests/execution/test_ledger_and_tags.py",
    "tests/execution/test_daily_loss.py",
    "tests/execution/test_kill_switches.py",
    "tests/execution/test_squareoff_intraday.py",
    "tests/execution/test_emergency.py",
    "tests/execution/test_order_path_sql.py",
    "tests/execution/test_order_threads.py",
    "tests/risk",
]


@pytest.mark.slow
def test_the_order_path_tests_pass_on_sqlite(tmp_path, tmp_path_factory):
    # The inner run is a run of its own (tests/run_isolation.py): with this run's TEST_RUN_ID it took
    # this run's temporary folder as its own and deleted it when it passed, under the tests after it.
    env = {
        key: value for key, value in os.environ.items() if key not in ("TEST_RUN_ID", "CELERY_KEY_PREFIX")
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = subprocess.run(  # noqa: S603 (fixed argv: this interpreter running pytest)
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", *ORDER_PATH_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert tmp_path_factory.getbasetemp().is_dir(), "the inner run removed this run's temporary folder"
