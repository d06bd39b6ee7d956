"""manage.py kite_emulator: the emulator as a standalone server for trying the system by configuration."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def run_command():
    started = []

    def run(*args):
        port = free_port()
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="tests.settings")
        process = subprocess.Popen(
            [sys.executable, "manage.py", "kite_emulator", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        started.append(process)
        root = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read()
            try:
                requests.get(f"{root}/_emulator/state", timeout=1)
                return root
            except requests.ConnectionError:
                time.sleep(0.1)
        pytest.fail("the emulator did not start within 30 s")

    yield run
    for process in started:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_standalone_emulator_serves_the_demo_account_and_its_login_page(run_command):
    root = run_command()
    login = requests.get(f"{root}/connect/login", params={"v": 3, "api_key": "emu_api_key"}, allow_redirects=False)
    assert login.status_code == 302
    back = urlsplit(login.headers["Location"])
    assert f"{back.scheme}://{back.netloc}{back.path}" == "http://127.0.0.1:8000/accounts/kite/callback/"
    assert parse_qs(back.query)["status"] == ["success"] and parse_qs(back.query)["request_token"]
    accounts = requests.get(f"{root}/_emulator/accounts").json()["data"]
    assert [(a["api_key"], a["user_id"]) for a in accounts] == [("emu_api_key", "AB1234")]


def test_accounts_come_from_a_file(run_command, tmp_path):
    file = tmp_path / "accounts.json"
    file.write_text(json.dumps([{"api_key": "a1", "api_secret": "s1", "user_id": "AB1111"}]))
    root = run_command("--accounts", str(file), "--redirect-url", "http://desk.example/accounts/kite/callback/")
    accounts = requests.get(f"{root}/_emulator/accounts").json()["data"]
    assert [(a["api_key"], a["user_id"]) for a in accounts] == [("a1", "AB1111")]
    login = requests.get(f"{root}/connect/login", params={"v": 3, "api_key": "a1"}, allow_redirects=False)
    assert login.headers["Location"].startswith("http://desk.example/accounts/kite/callback/?")


def test_a_bad_accounts_file_is_a_clear_error(tmp_path):
    file = tmp_path / "accounts.json"
    file.write_text("{not json")
    with pytest.raises(CommandError, match="is not JSON"):
        call_command("kite_emulator", "--accounts", str(file))
    with pytest.raises(CommandError, match="cannot read"):
        call_command("kite_emulator", "--accounts", str(tmp_path / "missing.json"))


def test_without_the_tests_folder_the_command_says_where_the_emulator_lives(monkeypatch):
    monkeypatch.setitem(sys.modules, "tests.kite_emulator", None)  # as if tests/ were not deployed
    with pytest.raises(CommandError, match="tests/kite_emulator"):
        call_command("kite_emulator")
