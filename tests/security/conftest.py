import pytest
from django.core.cache import cache


@pytest.fixture
def lockouts(settings):
    """django-axes on (the test settings switch it off for the test client's login()), 3 tries."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 3
    settings.API_THROTTLE_RATES = {"user": "10000/minute", "anon": "10000/minute"}
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password="right-pw-1", is_staff=True, is_superuser=True)
