"""The second-factor page (tradingsite/two_factor.py)."""

from django.urls import path

from . import two_factor

urlpatterns = [
    path("two-factor/", two_factor.two_factor, name="two-factor"),
]
