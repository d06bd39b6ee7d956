"""The README's API examples, run as written against the demo (a live server and curl)."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from execution.demo import demo_seed
from strategies.models import Signal, SignalSource, Strategy
from strategies.services import strategy_webhook_rotate

README = Path(__file__).resolve().parents[1] / "README.md"
pytestmark = [
    pytest.mark.django_db(transaction=True, reset_sequences=True),  # the README says "strategy": 1
    pytest.mark.skipif(shutil.which("curl") is None, reason="the README's examples use curl"),
]


@pytest.fixture(autouse=True)
def orders_in_process(eager_tasks):
    """The signals' orders are placed in the live server's thread before it answers: no message is
    left for a worker to run against the test database while it is being emptied."""


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def run_shell(script: str) -> str:
    # The README's `python` is the one that runs the project: this interpreter's.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def json_documents(text: str) -> list:
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.append(document)
    return documents


def test_the_api_examples_run_on_the_demo(live_server):
    seed = demo_seed(admin_username="admin")
    [block] = [b for b in fenced_blocks(README.read_text(), "sh") if "/api/signals/manual" in b]
    host = live_server.url.removeprefix("http://")
    script = block.replace("localhost:8000", host).replace("password=...", f"password={seed.admin_password}")

    try:
        output = run_shell(script)
    except AssertionError as failure:  # say what the token endpoint answered (the script shows only a KeyError)
        answer = subprocess.run(
            [
                "curl",
                "-s",
                "-i",
                "-X",
                "POST",
                f"{host}/api/auth/token",
                "-d",
                "username=admin",
                "-d",
                f"password={seed.admin_password}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        raise AssertionError(f"{failure}\nthe token endpoint answers now:\n{answer.stdout[:1500]}") from None
    status, signal = json_documents(output)

    assert status["market_data"] == {"source": "simulated", "simulated": True}
    assert status["as_of"].endswith("+05:30")
    assert "error" not in signal, signal
    made = Signal.objects.get(pk=signal["id"])
    assert (made.strategy_id, made.instrument.kite_symbol, made.target, made.source) == (1, "NSE:INFY", 1, "manual")
    assert made.stop_price < made.price  # 2% under the simulated price, whatever it is today


def test_the_tradingview_alert_message_is_accepted_as_tradingview_fills_it_in(live_server):
    demo_seed(admin_username="admin")
    strategy = Strategy.objects.get(pk=1)
    webhook, secret = strategy_webhook_rotate(strategy=strategy)
    [message] = [b for b in fenced_blocks(README.read_text(), "json") if "{{strategy.order.action}}" in b]
    filled = (
        message.replace("<the secret>", secret)
        .replace("{{exchange}}", "NSE")
        .replace("{{ticker}}", "INFY")
        .replace("{{strategy.order.action}}", "sell")
        .replace("{{strategy.order.id}}", "Short")
        .replace("{{timenow}}", "2026-12-03T04:31:07Z")
        .replace("{{time}}", "2026-12-03T04:30:00Z")
    )
    url = f"{live_server.url}{webhook.path}"
    out = run_shell(f"curl -s -X POST {url} -H 'Content-Type: application/json' -d '{filled}'")

    answer = json.loads(out)
    assert answer["outcome"] == "accepted", answer
    made = Signal.objects.get(pk=answer["signal"])
    assert (made.source, made.target, made.instrument.tradingsymbol) == (SignalSource.WEBHOOK, -1, "INFY")
    assert made.stop_price > made.price  # a short's stop, 1.5% above
