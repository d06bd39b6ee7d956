"""Emulated Kite accounts: one Kite Connect app (api_key/api_secret) per Zerodha user."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import KiteError, token_error
from .util import sha256_hex


@dataclass
class Account:
    api_key: str
    api_secret: str
    user_id: str
    user_name: str
    email: str = ""
    redirect_url: str | None = None
    postback_url: str | None = None
    app_id: int = 0
    allowed_ips: tuple[str, ...] | None = None  # None: order routes accept any IP
    cash: Decimal = Decimal("1000000")
    access_tokens: set[str] = field(default_factory=set)
    request_tokens: dict[str, float] = field(default_factory=dict)  # token -> monotonic expiry
    order_ids: list[str] = field(default_factory=list)
    trades: list[dict] = field(default_factory=list)  # today's fills
    holdings: dict = field(default_factory=dict)  # (exchange, tradingsymbol) -> holdings.Holding
    last_login: str | None = None

    @property
    def logged_in(self) -> bool:
        return bool(self.access_tokens)

    def issue_request_token(self, ttl: float) -> str:
        token = secrets.token_hex(16)
        self.request_tokens[token] = time.monotonic() + ttl
        return token

    def redeem_request_token(self, request_token: str, checksum: str) -> str:
        """Verify checksum and single-use request token; return a fresh access token."""
        expected = sha256_hex(self.api_key, request_token, self.api_secret)
        if not secrets.compare_digest(expected, checksum or ""):
            raise token_error("Invalid `checksum`.")
        expiry = self.request_tokens.pop(request_token, None)
        if expiry is None or expiry < time.monotonic():
            raise token_error("Token is invalid or has expired.")
        return self.new_access_token()

    def new_access_token(self) -> str:
        token = secrets.token_hex(16)
        self.access_tokens.add(token)
        return token

    def check_access_token(self, token: str | None) -> None:
        if not token or token not in self.access_tokens:
            raise token_error()

    def check_ip(self, ip: str) -> None:
        if self.allowed_ips is not None and ip not in self.allowed_ips:
            raise ip_not_allowed(ip)

    def public(self) -> dict:
        return {
            "api_key": self.api_key,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "logged_in": self.logged_in,
            "redirect_url": self.redirect_url,
            "postback_url": self.postback_url,
            "allowed_ips": list(self.allowed_ips) if self.allowed_ips is not None else None,
            "orders": len(self.order_ids),
            "trades": len(self.trades),
            "holdings": len(self.holdings),
            "last_login": self.last_login,
        }


def ip_not_allowed(ip: str) -> KiteError:
    return KiteError(
        "PermissionException",
        f"Order requests are allowed only from the static IPs whitelisted for this app. IP {ip} is not whitelisted.",
    )


def profile_payload(acc: Account) -> dict:
    short = acc.user_name.split()[0] if acc.user_name else acc.user_id
    return {
        "user_id": acc.user_id,
        "user_type": "individual",
        "email": acc.email,
        "user_name": acc.user_name,
        "user_shortname": short,
        "broker": "ZERODHA",
        "exchanges": ["BFO", "MCX", "NSE", "CDS", "BSE", "BCD", "MF", "NFO"],
        "products": ["CNC", "NRML", "MIS", "BO", "CO"],
        "order_types": ["MARKET", "LIMIT", "SL", "SL-M"],
        "avatar_url": None,
        "meta": {"demat_consent": "physical"},
    }


def session_payload(acc: Account, access_token: str, login_time: str) -> dict:
    return {
        **profile_payload(acc),
        "api_key": acc.api_key,
        "access_token": access_token,
        "public_token": secrets.token_hex(8),
        "enctoken": secrets.token_hex(16),
        "refresh_token": "",
        "silo": "",
        "login_time": login_time,
    }


def margins_segment(cash: Decimal, debits: Decimal) -> dict:
    c, d = float(cash), float(debits)
    return {
        "enabled": True,
        "net": c - d,
        "available": {
            "adhoc_margin": 0,
            "cash": c,
            "opening_balance": c,
            "live_balance": c - d,
            "collateral": 0,
            "intraday_payin": 0,
        },
        "utilised": {
            "debits": d,
            "exposure": 0,
            "m2m_realised": 0,
            "m2m_unrealised": 0,
            "option_premium": 0,
            "payout": 0,
            "span": 0,
            "holding_sales": 0,
            "turnover": 0,
            "liquid_collateral": 0,
            "stock_collateral": 0,
            "delivery": 0,
        },
    }
