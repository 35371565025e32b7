"""The database holds the scan-event rules: a known action, and each client scan id recorded once."""

from scanning.models import Scan
from tests import factories
from tests.db import refused_by


def test_unknown_scan_action_is_refused_by_database(db):
    dispatcher = factories.make_user()

    with refused_by("scan_action_valid", Scan):
        Scan.objects.bulk_create([Scan(user=dispatcher, action="teleport", bag_qr="ABCD1234")])


def test_duplicate_client_scan_id_is_refused_by_database(db):
    dispatcher = factories.make_user()
    Scan.objects.create(client_scan_id="phone-7:0001", user=dispatcher, action="link", bag_qr="ABCD1234")

    with refused_by("scanning_scan_client_scan_id_key", Scan):
        Scan.objects.bulk_create(
            [Scan(client_scan_id="phone-7:0001", user=dispatcher, action="link", bag_qr="ABCD1234")]
        )


def test_scans_without_a_client_scan_id_are_not_duplicates(db):
    dispatcher = factories.make_user()

    Scan.objects.bulk_create([Scan(user=dispatcher, action="link", bag_qr="ABCD1234") for _ in range(2)])

    assert Scan.objects.filter(client_scan_id__isnull=True).count() == 2
