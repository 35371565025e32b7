"""The bags app's data migrations, run again on data made after them."""

from importlib import import_module

import pytest
from django.db import connection

from bags.models import Bag
from tests import factories

pytestmark = pytest.mark.django_db

rehoming = import_module("bags.migrations.0008_children_take_their_parents_area")


def rehome() -> None:
    with connection.schema_editor(atomic=False) as editor:
        rehoming.rehome_children(None, editor)


def test_children_linked_before_the_area_rule_are_moved_to_their_parents_area_in_batches(area, mustard, monkeypatch):
    monkeypatch.setattr(rehoming, "BATCH", 2)  # several batches, one holding no link at all
    elsewhere = factories.make_area("Godown 2")
    ours = factories.make_parent("SB00001", dispatch_area=area)
    nobodys = factories.make_parent("SB00002")
    # factories.link leaves the child's area as it was made, as the scan loop did before the rule.
    for code, parent, first_seen in [
        ("C0000001", ours, elsewhere),
        ("C0000002", ours, None),
        ("C0000003", ours, area),
        ("C0000004", nobodys, elsewhere),
    ]:
        factories.link(parent, factories.make_child(code, dispatch_area=first_seen))
    for n in range(5):
        factories.make_child(f"L000000{n}", dispatch_area=elsewhere)
    factories.link(ours, factories.make_child("C0000005", dispatch_area=elsewhere))
    unchanged = Bag.objects.get(qr_id="C0000003").updated_at

    rehome()
    rehome()  # a second run changes nothing more

    in_parents = {f"C000000{n}": area.pk for n in (1, 2, 3, 5)} | {"C0000004": None}
    loose = {f"L000000{n}": elsewhere.pk for n in range(5)}  # they stay where they were first scanned
    assert dict(Bag.objects.filter(kind="child").values_list("qr_id", "dispatch_area")) == in_parents | loose
    assert Bag.objects.get(qr_id="C0000003").updated_at == unchanged


def test_the_rehoming_of_no_links_at_all_does_nothing(db):
    rehome()

    assert not Bag.objects.exists()
