"""PostgreSQL restarted in the middle of a burst of manual signals, with the Procfile's processes.

A PostgreSQL of the test's own (never the shared server: other test runs use it), the web under
gunicorn, a Celery worker and beat as the Procfile starts them, a Redis of the test's own, paper
accounts. Signals are sent through the API while the database is stopped and started again:

- the API never answers 500: while the database is down it answers 503 in its error shape with
  Retry-After (the signal was not recorded, a retry is safe); a signal it recorded always got 201;
- every (signal, account) delivery ends decided or expired with its reason within TTL plus a sweep;
- web, worker and beat are all still running afterwards and still work: a new signal through the API
  is decided by the worker, and a signal whose message was never sent is picked up by beat's sweeper;
  beat, restarted while the database is down (a deploy, a reboot), waits for it instead of exiting.
"""

from __future__ import annotations

import json
import os
import signal as signals
import subprocess
import sys
import threading
import time
from functools import partial

import psycopg
import pytest
import requests

from tests.django_process import run_django
from tests.own_postgres import OwnPostgres, server_bin_dir
from tests.own_redis import OwnRedis, celery_app_on, free_port
from tradingsite.benchmarks.workers import ROOT, database_url, start_worker

# The test database is set up only for tests marked django_db: its schema is copied to the test's server.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]

TTL, GRACE, SWEEP = 20, 2, 2
ACCOUNTS = 4
DECIDED = {"ordered", "refused", "nothing_to_do"}


@pytest.fixture
def own_postgres(django_db_blocker):
    """The test's server, holding a copy of the test database's schema (faster than migrating)."""
    from django.db import connection

    bin_dir = server_bin_dir()
    if bin_dir is None:
        pytest.skip("needs PostgreSQL's server programs (initdb, pg_ctl)")
    server = OwnPostgres(bin_dir)
    try:
        server.init()
        server.start()
        source = database_url(connection.settings_dict)
        dump = subprocess.run(
            [str(bin_dir / "pg_dump"), "--no-owner", "--no-privileges", "--dbname", source],
            check=True,
            capture_output=True,
            timeout=120,
        ).stdout
        with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE trading")
        subprocess.run(
            [str(bin_dir / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "--dbname", server.url("trading")],
            input=dump,
            check=True,
            capture_output=True,
            timeout=120,
        )
        yield server
    finally:
        server.destroy()


SEED = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.test import Client
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from knox.models import AuthToken
from risk import services
from tests.factories import AccountFactory, InstrumentFactory, MappingFactory, StrategyFactory

services.engine_start(reason="test")
instrument = InstrumentFactory(tradingsymbol="INFY", instrument_token=408065)
strategy = StrategyFactory(instruments=[instrument])
for _ in range({accounts}):
    account = AccountFactory(capital=Decimal("1000000"))
    MappingFactory(account=account, strategy=strategy, allocation_pct=Decimal("10"), risk_per_trade_pct=Decimal("1"))
every, _ = IntervalSchedule.objects.get_or_create(every={sweep}, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.create(name="sweep deliveries", task="execution.tasks.sweep_deliveries", interval=every)
operator = get_user_model().objects.create_user("operator", password="pw-operator-1", is_staff=True)
_, token = AuthToken.objects.create(user=operator)
browser = Client()
browser.force_login(operator)
print(json.dumps({{"strategy": strategy.id, "token": token, "session": browser.cookies["sessionid"].value}}))
"""

ORPHAN = """
from decimal import Decimal
from django.utils import timezone
from execution.engine.signals import signal_submit
from strategies.models import Instrument, Strategy
signal, _ = signal_submit(
    strategy=Strategy.objects.get(pk={strategy}), instrument=Instrument.objects.get(tradingsymbol="INFY"),
    bar_time=timezone.now(), target=0, price=Decimal("1500"), stop_price=None,
)
print(signal.id)
"""


@pytest.fixture
def stack(own_postgres, tmp_path):
    """Redis, the seeded database, then web, worker and beat as the Procfile runs them."""
    redis = OwnRedis(tmp_path)
    redis.start()
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": own_postgres.url("trading"),
        "REDIS_URL": redis.url,
        "CELERY_KEY_PREFIX": "",
        "SIGNAL_ORDER_TTL_SECONDS": str(TTL),
        "DELIVERY_GRACE_SECONDS": str(GRACE),
        "DELIVERY_SWEEP_SECONDS": str(SWEEP),
        "ORDER_THREADS": "2",
        "API_THROTTLE_USER": "100000/minute",
    }
    seeded = run_django(SEED.format(accounts=ACCOUNTS, sweep=SWEEP), **env)
    assert seeded.returncode == 0, seeded.stderr
    seed = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    processes: dict[str, subprocess.Popen] = {}

    def spawn(name: str, *argv: str) -> subprocess.Popen:
        processes[name] = subprocess.Popen(  # noqa: S603 (fixed argv: this interpreter)
            [sys.executable, "-m", *argv],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=open(tmp_path / f"{name}.log", "w"),  # noqa: SIM115 (closed with the process)
            stderr=subprocess.STDOUT,
        )
        return processes[name]

    with celery_app_on(redis.url):
        try:
            spawn(
                "web",
                *("gunicorn", "tradingsite.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"),
                *("--threads", "4", "--timeout", "120", "--access-logfile", "-"),
            )
            start_beat = partial(
                spawn, "beat", "celery", "-A", "tradingsite", "beat", "--loglevel", "INFO", "--pidfile", ""
            )
            start_beat()
            log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 (closed with the process)
            processes["worker"] = start_worker(env=env, concurrency=2, log=log)
            api = Api(f"http://127.0.0.1:{port}", seed["token"], seed["session"])
            deadline = time.monotonic() + 60
            while not api.up():
                assert processes["web"].poll() is None, (tmp_path / "web.log").read_text()[-3000:]
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.2)
            yield Stack(api, seed["strategy"], own_postgres, processes, env, tmp_path, start_beat)
        finally:
            # All at once (the web's quick shutdown: no waiting out the test's kept-alive connections).
            for name, process in processes.items():
                if process.poll() is None:
                    process.send_signal(signals.SIGINT if name == "web" else signals.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            redis.stop()


class Api:
    def __init__(self, root: str, token: str, session: str) -> None:
        self.root = root
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.session = session

    def up(self) -> bool:
        try:
            return self.http.get(f"{self.root}/api/system/status", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def signal(self, strategy: int, target: int) -> requests.Response:
        payload = {"strategy": strategy, "instrument": "NSE:INFY", "target": target}
        if target:
            payload["stop_percent"] = "2"
        return self.http.post(f"{self.root}/api/signals/manual", json=payload, timeout=60)

    def deliveries(self, signal_id: int) -> list[dict]:
        answer = self.http.get(f"{self.root}/api/signals/{signal_id}", timeout=30)
        assert answer.status_code == 200, answer.text[:300]
        return answer.json()["deliveries"]

    def page(self, path: str) -> requests.Response:
        # The dashboard with a logged-in browser's session (no token): the HTML side of the site.
        return requests.get(f"{self.root}{path}", cookies={"sessionid": self.session}, timeout=60)


class Stack:
    def __init__(self, api, strategy, postgres, processes, env, logs, start_beat) -> None:
        self.api, self.strategy, self.postgres = api, strategy, postgres
        self.processes, self.env, self.logs = processes, env, logs
        self.start_beat = start_beat

    def database(self):
        return psycopg.connect(self.postgres.url("trading"), autocommit=True)

    def log_tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]


def test_postgres_restarted_mid_burst_loses_no_pair_answers_no_500_and_stops_no_process(stack):
    answers: list[tuple[float, requests.Response]] = []
    stop_sending = threading.Event()

    def burst() -> None:
        target = 1
        while not stop_sending.is_set():
            answers.append((time.monotonic(), stack.api.signal(stack.strategy, target)))
            answers.append((time.monotonic(), stack.api.http.get(f"{stack.api.root}/api/system/status", timeout=60)))
            answers.append((time.monotonic(), stack.api.page("/")))
            target = 1 - target
            time.sleep(0.05)

    def created() -> int:
        return sum(1 for _, a in answers if a.request.method == "POST" and a.status_code == 201)

    sender = threading.Thread(target=burst, daemon=True)
    sender.start()
    try:
        _wait(lambda: created() >= 4, timeout=60, what="four signals before the restart")
        stack.postgres.stop("fast")
        down_at = time.monotonic()
        # Beat is also restarted while the database is down (a deploy, a reboot): it must wait, not exit.
        stack.processes["beat"].terminate()
        stack.processes["beat"].wait(timeout=20)
        (stack.logs / "beat.log").rename(stack.logs / "beat-before.log")
        stack.start_beat()

        def beat_waits_for_the_database() -> bool:
            assert stack.processes["beat"].poll() is None, f"beat exited, the database down:\n{stack.log_tail('beat')}"
            return "database is unavailable" in (stack.logs / "beat.log").read_text(errors="replace")

        _wait(beat_waits_for_the_database, timeout=60, what="the new beat meeting the database down")
        time.sleep(max(0.0, down_at + 3 - time.monotonic()))
        stack.postgres.start()
        up_at = time.monotonic()
        before = created()
        _wait(lambda: created() >= before + 4, timeout=60, what="four signals after the restart")
    finally:
        stop_sending.set()
        sender.join(timeout=120)

    statuses = [a.status_code for _, a in answers]
    assert 500 not in statuses and all(s in (200, 201, 503) for s in statuses), _describe(answers)
    during = [a for at, a in answers if down_at + 0.5 < at < up_at]
    assert any(a.status_code == 503 for a in during), "no request met the database down: nothing was tested"
    for _, answer in answers:
        if answer.status_code == 503:
            assert answer.headers.get("Retry-After", "").isdigit(), answer.headers
            if answer.request.path_url.startswith("/api/"):
                assert answer.json()["error"]["code"] == "database_unavailable", answer.text[:300]
    committed = [a.json()["id"] for _, a in answers if a.request.method == "POST" and a.status_code == 201]
    for _, answer in answers:
        if answer.request.method == "POST" and answer.status_code == 201:
            assert len(answer.json()["deliveries"]) == ACCOUNTS
    with stack.database() as db:
        recorded = [row[0] for row in db.execute("SELECT id FROM strategies_signal ORDER BY id")]
    assert sorted(committed) == recorded, "a recorded signal was not answered 201 (or one answered 201 is missing)"

    # Every pair decided or expired with its reason within TTL plus a sweep of the last signal.
    deadline = time.monotonic() + TTL + SWEEP + GRACE + 15
    while time.monotonic() < deadline:
        with stack.database() as db:
            (pending,) = db.execute("SELECT count(*) FROM execution_delivery WHERE state = 'pending'").fetchone()
        if not pending:
            break
        time.sleep(0.5)
    for signal_id in committed:
        deliveries = stack.api.deliveries(signal_id)
        assert len(deliveries) == ACCOUNTS
        for delivery in deliveries:
            assert delivery["state"] in DECIDED | {"expired"}, (signal_id, delivery, stack.log_tail("worker"))
            assert delivery["reason"], (signal_id, delivery)
            assert bool(delivery["orders"]) == (delivery["state"] in ("ordered", "refused")), (signal_id, delivery)

    # Still running, and still working: the worker decides a new signal from its message ...
    for name, process in stack.processes.items():
        assert process.poll() is None, f"{name} exited after the restart:\n{stack.log_tail(name)}"
    fresh = stack.api.signal(stack.strategy, 0)
    assert fresh.status_code == 201, fresh.text[:300]
    _wait(
        lambda: all(d["state"] in DECIDED for d in stack.api.deliveries(fresh.json()["id"])),
        timeout=GRACE + 15,
        what=f"the worker deciding a signal sent after the restart:\n{stack.log_tail('worker')}",
    )
    # ... and beat's sweeper still sends what no message asked for (a signal recorded while its
    # message could not be sent: Redis unreachable for that process).
    orphan = run_django(
        ORPHAN.format(strategy=stack.strategy), **{**stack.env, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    )
    assert orphan.returncode == 0, orphan.stderr
    orphan_id = int(orphan.stdout.strip().splitlines()[-1])
    _wait(
        lambda: all(d["state"] in DECIDED for d in stack.api.deliveries(orphan_id)),
        timeout=GRACE + 2 * SWEEP + 15,
        what=f"beat's sweeper re-driving a signal after the restart:\n{stack.log_tail('beat')}",
    )
    for name, process in stack.processes.items():
        assert process.poll() is None, f"{name} exited:\n{stack.log_tail(name)}"


def _wait(predicate, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.2)


def _describe(answers) -> str:
    return "\n".join(
        f"{a.request.method} {a.request.path_url} -> {a.status_code} {a.text[:200]!r}"
        for _, a in answers
        if a.status_code not in (200, 201)
    )[:6000]
