"""A local, Kite Connect v3 compatible HTTP emulator for tests and the standalone demo.

Stdlib only; no Django. See README.md in this package.
"""

from .emulator import DEFAULT_POSTBACK_STATUSES, KiteEmulator, RequestRecord
from .faults import FAULT_KINDS
from .orders import FILL_MODES
from .standalone import run_standalone

__all__ = ["KiteEmulator", "RequestRecord", "FAULT_KINDS", "FILL_MODES", "DEFAULT_POSTBACK_STATUSES", "run_standalone"]
