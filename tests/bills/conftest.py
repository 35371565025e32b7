import pytest

from accounts.models import Role
from tests import factories


@pytest.fixture
def biller(db):
    return factories.make_user("biller1", role=Role.BILLER)


@pytest.fixture
def other_biller(db):
    return factories.make_user("biller2", role=Role.BILLER)


@pytest.fixture
def dispatcher(db):
    return factories.make_user("dispatcher1")


@pytest.fixture
def biller_client(client, biller):
    client.force_login(biller)
    return client
