"""Request rates per user and per anonymous client, read from ``settings.API_THROTTLE_RATES``.

DRF's stock throttles copy their rates once at import; these read the setting on each request so
the rate can be changed per environment (and per test) without a restart. The client is told apart
by ``client_address`` (X-Forwarded-For only through TRUSTED_PROXY_COUNT proxies of our own), and
the counts live in the shared cache (Redis in production), so every process counts together.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from ..client_address import client_address


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)

    def get_ident(self, request):
        return client_address(request)


class UserThrottle(_SettingsRate, UserRateThrottle):
    pass


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    pass
