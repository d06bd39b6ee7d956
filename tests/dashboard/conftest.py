import pytest
from django.contrib.auth import get_user_model

from risk.selectors import engine_state


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_user("operator", password="pw-operator", is_staff=True)


@pytest.fixture
def viewer(db):
    return get_user_model().objects.create_user("viewer", password="pw-viewer")


@pytest.fixture
def staff_client(client, staff):
    engine_state()  # the singleton exists, as it does after the first page view
    client.force_login(staff)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    engine_state()
    client.force_login(viewer)
    return client
