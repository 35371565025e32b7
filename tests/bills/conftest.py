import pytest

from tests import factories


@pytest.fixture
def dispatcher(db):
    return factories.make_user("dispatcher1")
