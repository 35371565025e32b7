"""A parent's child_count is its links, kept by the database (bags/migrations/0013_*): whatever writes the links
(the scan services, the admin, the import, or plain SQL around the ORM), every parent's count equals them."""

import io
import random
import uuid

import pytest
from django.db import connection

from bags.models import Bag, BagKind, Link
from imports.bag_import import import_bags
from scanning import services
from scanning.models import Scan, ScanAction
from tests import factories
from tests.db import insert_link

pytestmark = pytest.mark.django_db

# Parents whose count is not their links, or past their capacity: (code, count, links).
WRONG_COUNTS_SQL = """
SELECT parent.qr_id, parent.child_count, count(link.child_id)
FROM bags_bag AS parent
JOIN bags_product AS product ON product.id = parent.product_id
LEFT JOIN bags_link AS link ON link.parent_id = parent.id
WHERE parent.kind = 'parent'
GROUP BY parent.id, product.capacity
HAVING parent.child_count <> count(link.child_id) OR parent.child_count > product.capacity
"""


def wrong_counts() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(WRONG_COUNTS_SQL)
        return cursor.fetchall()


def counts(*codes: str) -> list[int]:
    by_code = dict(Bag.objects.filter(qr_id__in=codes).values_list("qr_id", "child_count"))
    return [by_code[code] for code in codes]


def test_links_written_around_the_orm_are_counted(mustard):
    one, two = factories.make_parent("SB00001"), factories.make_parent("SB00002")
    children = [factories.make_child(f"C{n:07d}").pk for n in range(5)]

    insert_link(one.pk, children[0])
    assert counts("SB00001", "SB00002") == [1, 0]
    with connection.cursor() as cursor:
        # Several parents in one statement: each counted once for all its new links.
        cursor.execute(
            "INSERT INTO bags_link (parent_id, child_id, created_at) VALUES (%s, %s, now()), (%s, %s, now()),"
            " (%s, %s, now())",
            [one.pk, children[1], two.pk, children[2], two.pk, children[3]],
        )
        assert counts("SB00001", "SB00002") == [2, 2]
        cursor.execute("UPDATE bags_link SET parent_id = %s WHERE child_id = %s", [one.pk, children[2]])
        assert counts("SB00001", "SB00002") == [3, 1]
        cursor.execute("DELETE FROM bags_link WHERE child_id = ANY(%s)", [children[:3]])
        assert counts("SB00001", "SB00002") == [0, 1]
    assert wrong_counts() == []


def test_a_deleted_child_leaves_its_parents_count(mustard):
    parent = factories.make_parent("SB00001")
    children = [factories.make_child() for _ in range(3)]
    for child in children:
        factories.link(parent, child)

    children[0].delete()  # the ORM deletes its link first (Link.child cascades)

    assert counts("SB00001") == [2]


class Warehouse:
    """Random operations of every kind that moves links, each the way the app does it."""

    def __init__(self, rng: random.Random, area, admin, dispatcher) -> None:
        self.rng, self.admin, self.dispatcher = rng, admin, dispatcher
        self.area = area
        self.parents = [f"SB{n:05d}" for n in range(1, 9)]
        self.children = [f"C{n:07d}" for n in range(1, 61)]

    def step(self) -> str:
        operation = self.rng.choices(
            [
                self.open_parent,
                self.scan_child,
                self.move,
                self.undo,
                self.complete,
                self.unlink,
                self.supervisor_unlink,
                self.import_links,
                self.delete,
            ],
            weights=[2, 12, 3, 3, 1, 1, 1, 1, 1],
        )[0]
        operation()
        return operation.__name__

    def _id(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128)).hex

    def open_parent(self) -> None:
        services.open_parent(user=self.dispatcher, raw_code=self.rng.choice(self.parents), client_scan_id=self._id())

    def scan_child(self) -> None:
        services.scan_child(
            user=self.dispatcher,
            parent_code=self.rng.choice(self.parents),
            raw_code=self.rng.choice(self.children),
            client_scan_id=self._id(),
        )

    def move(self) -> None:
        answer = services.move_child(
            user=self.dispatcher,
            raw_code=self.rng.choice(self.children),
            parent_code=self.rng.choice(self.parents),
            client_scan_id=self._id(),
        )
        if answer.body["ok"] and self.rng.random() < 0.5:
            self.undo()  # the move taken back: the child goes back into the parent it left

    def undo(self) -> None:
        services.undo_last_scan(user=self.dispatcher, client_scan_id=self._id())

    def complete(self) -> None:
        services.complete_parent(
            user=self.dispatcher, parent_code=self.rng.choice(self.parents), client_scan_id=self._id()
        )

    def unlink(self) -> None:
        links = list(Link.objects.select_related("child").order_by("pk"))
        if links:
            services.unlink_child(link=self.rng.choice(links), actor=self.admin, reason="Wrong parent")

    def supervisor_unlink(self) -> None:
        services.supervisor_unlink(
            user=self.admin, child_code=self.rng.choice(self.children), reason="Wrong parent", client_scan_id=self._id()
        )

    def import_links(self) -> None:
        parent = self.rng.choice(self.parents)
        rows = "".join(f"{parent},{child}\n" for child in self.rng.sample(self.children, self.rng.randint(1, 6)))
        import_bags(
            source=io.BytesIO(f"parent,child\n{rows}".encode()),
            file_name="links.csv",
            user=self.admin,
            default_area=self.area,
            skip_invalid=True,
        )

    def delete(self) -> None:
        # The admin's deletion of a child: unlinked properly, then deleted.
        children = list(Bag.objects.filter(kind=BagKind.CHILD, qr_id__in=self.children).order_by("pk"))
        if children:
            child = self.rng.choice(children)
            link = Link.objects.filter(child=child).select_related("child").first()
            if link is not None:
                services.unlink_child(link=link, actor=self.admin, reason="Deleted")
            child.delete()


@pytest.mark.parametrize("seed", [1, 2])
def test_every_parents_count_is_its_links_after_each_of_300_random_operations(seed, area, mustard, admin_user):
    mustard.capacity = 5  # small, so parents fill up and scans are refused as full
    mustard.save()
    dispatcher = factories.make_user("d1", area=area)
    warehouse = Warehouse(random.Random(seed), area, admin_user, dispatcher)
    done, most_links = [], 0

    for n in range(300):
        done.append(warehouse.step())
        assert wrong_counts() == [], f"after operation {n}, {done[-1]} (all: {done})"
        most_links = max(most_links, Link.objects.count())

    # Every kind of operation ran, and parents were filled.
    assert set(done) >= {
        "open_parent",
        "scan_child",
        "move",
        "undo",
        "complete",
        "unlink",
        "supervisor_unlink",
        "import_links",
        "delete",
    }
    assert Scan.objects.filter(action=ScanAction.MOVE).exists()
    assert Scan.objects.filter(action=ScanAction.UNDO, reverts__action=ScanAction.MOVE).exists()
    assert most_links >= 10
