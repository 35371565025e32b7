"""A deletion racing a scan on real PostgreSQL: threads, each on its own connection, released together.

These tests commit (transaction=True), so what one thread wrote is what the other races against;
serialized_rollback puts the data migration's products back afterwards.
"""

import uuid

import pytest

from accounts.models import Role
from bags.models import Bag, Link
from scanning import services as scanning
from scanning.models import Scan, ScanAction
from tests import factories
from tests.concurrency import all_at_once
from tracking import services

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_a_parent_deleted_while_a_child_is_scanned_into_it_leaves_no_child_behind(wide_pool):
    admin = factories.make_user("race-admin", role=Role.ADMIN)
    biller = factories.make_user("race-biller", role=Role.BILLER)
    area = factories.make_area()

    for n in range(5):  # the race goes either way; it must end consistent every time
        parent, first, late = f"SB0000{n}", f"C000000{n}", f"L000000{n}"
        scanning.open_parent(user=biller, raw_code=parent, client_scan_id=uuid.uuid4().hex, area_id=area.pk)
        scanning.scan_child(user=biller, parent_code=parent, raw_code=first, client_scan_id=uuid.uuid4().hex)

        deletion, scan = all_at_once(
            [
                lambda parent=parent: services.delete_bag(user=admin, code=parent, reason="wrong label"),
                lambda parent=parent, late=late: scanning.scan_child(
                    user=biller, parent_code=parent, raw_code=late, client_scan_id=uuid.uuid4().hex
                ),
            ]
        )

        # The scan went in first (and its child went with the parent) or found the parent gone.
        assert scan.body["code"] in ("linked", "unknown_parent")
        went = {child.qr_id for child in deletion.children}
        assert went == ({first, late} if scan.body["code"] == "linked" else {first})
        assert not Bag.objects.filter(qr_id__in=[parent, first, late]).exists()
        assert not Link.objects.filter(child__qr_id__in=[first, late]).exists()
        deleted = Scan.objects.filter(action=ScanAction.DELETE, reason="wrong label", bag_qr__in=[parent, first, late])
        assert deleted.count() == 1 + len(went)
