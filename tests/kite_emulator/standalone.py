"""Standalone mode: run the emulator as a process for the demo (`python -m tests.kite_emulator`)."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

from .emulator import KiteEmulator

DEMO_ACCOUNT = {
    "api_key": "emu_api_key",
    "api_secret": "emu_api_secret",
    "user_id": "AB1234",
    "user_name": "Emulator Demo",
}
SETTINGS_KEYS = ("postback_url", "rate_limits_enabled", "default_redirect_url")


def load_accounts(config) -> tuple[list[dict], dict]:
    """``config``: None, a JSON file path, a list of account dicts, or {"accounts": [...], <settings>}."""
    if config is None:
        return [dict(DEMO_ACCOUNT)], {}
    if isinstance(config, str | Path):
        config = json.loads(Path(config).read_text())
    if isinstance(config, dict):
        settings = {k: config[k] for k in SETTINGS_KEYS if k in config}
        return list(config.get("accounts", [])), settings
    return list(config), {}


def run_standalone(
    host: str = "127.0.0.1",
    port: int = 8765,
    accounts_config=None,
    *,
    block: bool = True,
    postback_url: str | None = None,
    rate_limits_enabled: bool = True,
    verbose: bool = True,
) -> KiteEmulator:
    """Start an emulator with the given accounts. ``block=True`` serves until SIGINT/SIGTERM."""
    accounts, settings = load_accounts(accounts_config)
    emu = KiteEmulator(
        host=host,
        port=port,
        rate_limits_enabled=settings.get("rate_limits_enabled", rate_limits_enabled),
        postback_url=settings.get("postback_url", postback_url),
        verbose=verbose,
    )
    emu.default_redirect_url = settings.get("default_redirect_url")
    for acc in accounts:
        emu.add_account(**acc)
    emu.start()
    print(f"Kite emulator listening on {emu.root}", flush=True)
    for acc in emu.accounts.values():
        print(
            f"  account {acc.user_id}: api_key={acc.api_key} login: {emu.root}/connect/login?v=3&api_key={acc.api_key}",
            flush=True,
        )
    if not block:
        return emu
    done = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return emu
