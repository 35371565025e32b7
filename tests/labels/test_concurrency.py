"""Two billers asking for the next unused codes of one product at the same moment get different codes:
threads on their own connections, committing (transaction=True); serialized_rollback restores the products."""

import pytest

from accounts.models import Role
from labels import services
from labels.layouts import LayoutKey
from labels.services import NEXT, LabelOrder
from tests import factories
from tests.concurrency import all_at_once

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_billers_asking_at_once_get_different_codes():
    mustard = factories.product("mustard")
    billers = [factories.make_user(f"label-biller-{n}", role=Role.BILLER) for n in range(2)]
    order = LabelOrder(source=NEXT, product=mustard, count=50)

    files = all_at_once(
        [
            lambda user=user: services.make_file(user=user, order=order, layout_key=LayoutKey.ROLL_50X25)
            for user in billers
        ]
    )

    assert sorted(made.run.first for made in files) == ["SB00001", "SB00051"]
