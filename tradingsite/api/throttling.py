"""Request rates per user and per anonymous client, read from ``settings.API_THROTTLE_RATES``.

DRF's stock throttles copy their rates once at import; these read the setting on each request so
the rate can be changed per environment (and per test) without a restart.
"""

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _SettingsRate:
    def get_rate(self):
        return settings.API_THROTTLE_RATES.get(self.scope)


class UserThrottle(_SettingsRate, UserRateThrottle):
    pass


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    pass
