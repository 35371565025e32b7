"""The scan admin: read-only (scans are the bags' append-only history), searchable by bag code."""

import pytest
from django.urls import reverse

from scanning.models import Scan, ScanAction
from tests import factories


@pytest.fixture
def scans(db):
    dispatcher = factories.make_user("scanner")
    parent = factories.make_parent("SB00001")
    other_parent = factories.make_parent("SB00002")
    first, second = factories.make_child("C1000001"), factories.make_child("C1000002")

    def scan(action: str, bag, parent_bag=None) -> Scan:
        return Scan.objects.create(
            user=dispatcher,
            action=action,
            bag=bag,
            bag_qr=bag.qr_id,
            parent=parent_bag,
            parent_qr=parent_bag.qr_id if parent_bag else "",
            dispatch_area=dispatcher.dispatch_area,
        )

    return {
        "open": scan(ScanAction.OPEN_PARENT, parent),
        "first": scan(ScanAction.LINK, first, parent),
        "second": scan(ScanAction.LINK, second, parent),
        "elsewhere": scan(ScanAction.LINK, factories.make_child("C2000001"), other_parent),
    }


def test_scans_cannot_be_added(admin_client, scans):
    count = Scan.objects.count()

    response = admin_client.post(
        reverse("admin:scanning_scan_add"),
        {"user": scans["first"].user_id, "action": ScanAction.LINK, "bag_qr": "C9999999"},
    )

    assert response.status_code == 403
    assert Scan.objects.count() == count


def test_scans_cannot_be_changed(admin_client, scans):
    scan = scans["first"]

    response = admin_client.post(
        reverse("admin:scanning_scan_change", args=[scan.pk]), {"action": ScanAction.UNDO, "bag_qr": "C9999999"}
    )

    assert response.status_code == 403
    scan.refresh_from_db()
    assert (scan.action, scan.bag_qr) == (ScanAction.LINK, "C1000001")


def test_scans_cannot_be_deleted(admin_client, scans):
    scan = scans["first"]

    response = admin_client.post(reverse("admin:scanning_scan_delete", args=[scan.pk]), {"post": "yes"})

    assert response.status_code == 403
    assert Scan.objects.filter(pk=scan.pk).exists()


def test_the_scan_list_offers_no_delete_action(admin_client, scans):
    response = admin_client.get(reverse("admin:scanning_scan_changelist"))

    assert response.status_code == 200
    assert "delete_selected" not in response.content.decode()


def test_a_scan_is_shown_read_only(admin_client, scans):
    response = admin_client.get(reverse("admin:scanning_scan_change", args=[scans["first"].pk]))

    assert response.status_code == 200
    assert 'name="bag_qr"' not in response.content.decode()
    assert "C1000001" in response.content.decode()


def test_searching_a_parent_code_finds_its_own_and_its_childrens_scans(admin_client, scans):
    response = admin_client.get(reverse("admin:scanning_scan_changelist"), {"q": "sb00001"})

    found = {scan.pk for scan in response.context["cl"].result_list}
    assert found == {scans["open"].pk, scans["first"].pk, scans["second"].pk}


def test_searching_a_child_code_prefix_finds_its_scans(admin_client, scans):
    response = admin_client.get(reverse("admin:scanning_scan_changelist"), {"q": "c10"})

    found = {scan.pk for scan in response.context["cl"].result_list}
    assert found == {scans["first"].pk, scans["second"].pk}
