"""Kite-style API errors raised inside the emulator and rendered as Kite error bodies."""

from __future__ import annotations

# HTTP status Kite uses for each error type.
DEFAULT_STATUS = {
    "TokenException": 403,
    "PermissionException": 403,
    "UserException": 403,
    "InputException": 400,
    "OrderException": 400,
    "MarginException": 400,
    "HoldingException": 400,
    "DataException": 502,
    "NetworkException": 503,
    "GeneralException": 500,
}

INVALID_TOKEN_MESSAGE = "Incorrect `api_key` or `access_token`."


class KiteError(Exception):
    """An error the emulator answers with ``{"status": "error", ...}``."""

    def __init__(self, error_type: str, message: str, status: int | None = None):
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = status or DEFAULT_STATUS.get(error_type, 500)

    def body(self) -> dict:
        return {"status": "error", "message": self.message, "data": None, "error_type": self.error_type}


def input_error(message: str) -> KiteError:
    return KiteError("InputException", message)


def token_error(message: str = INVALID_TOKEN_MESSAGE) -> KiteError:
    return KiteError("TokenException", message)


def order_error(message: str) -> KiteError:
    return KiteError("OrderException", message)
