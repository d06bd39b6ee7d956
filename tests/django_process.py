"""Start Django in a fresh interpreter with a given environment: how settings read at import are tested."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_django(code: str, *, drop: tuple[str, ...] = (), **env: str) -> subprocess.CompletedProcess:
    """``django.setup()`` then ``code``, with this environment less ``drop`` plus ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in (*drop, "DJANGO_SETTINGS_MODULE")}
    environment.update(env)
    return subprocess.run(  # noqa: S603 (fixed argv: this interpreter)
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
