"""python -m tests.kite_emulator --port 8765 [--accounts accounts.json] [--postback-url URL]"""

from __future__ import annotations

import argparse

from .standalone import run_standalone


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.kite_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument(
        "--accounts",
        help="JSON file: list of add_account() kwargs, or "
        '{"accounts": [...], "postback_url": ..., "default_redirect_url": ...}',
    )
    parser.add_argument("--postback-url", default=None)
    parser.add_argument("--no-rate-limits", action="store_true")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    run_standalone(
        args.host,
        args.port,
        args.accounts,
        postback_url=args.postback_url,
        rate_limits_enabled=not args.no_rate_limits,
        verbose=not args.quiet,
    )


if __name__ == "__main__":
    main()
