"""The local Kite emulator (``tests/kite_emulator``), reached from the commands that run it."""

from __future__ import annotations

from typing import Any


class EmulatorMissing(RuntimeError):
    """The source tree's ``tests/kite_emulator`` is not there (an installed copy without tests)."""


def _emulator_package():
    try:
        import tests.kite_emulator as package
        import tests.kite_emulator.standalone  # noqa: F401 (the demo account lives there)
    except ImportError as exc:
        raise EmulatorMissing(str(exc)) from exc
    return package


def demo_account() -> dict[str, Any]:
    """The emulator's one default account (api_key emu_api_key, user AB1234)."""
    return dict(_emulator_package().standalone.DEMO_ACCOUNT)


def run_standalone(host: str, port: int, config: dict[str, Any], **options: Any) -> None:
    """Serve the emulator on ``host:port`` until interrupted."""
    _emulator_package().run_standalone(host, port, config, **options)
