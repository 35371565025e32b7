"""Raw-SQL helpers for tests that prove the database itself refuses a write (going around the ORM)."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import IntegrityError, connection, models, transaction

# A bag id no row will ever have.
MISSING_BAG_ID = 10**12

INSERT_BAG = """
INSERT INTO bags_bag (qr_id, kind, product_id, child_count, completed_at, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, now(), now())
RETURNING id
"""
INSERT_LINK = "INSERT INTO bags_link (parent_id, child_id, created_at) VALUES (%s, %s, now()) RETURNING id"

DELETE_BAG = "DELETE FROM bags_bag WHERE id = %s"


@contextmanager
def refused_by(constraint: str, *unchanged: type[models.Model]) -> Iterator[None]:
    """Expect PostgreSQL to refuse the block's write by ``constraint``, leaving the ``unchanged`` tables as they were.

    The savepoint (atomic) lets the test go on after the refusal.
    """
    counts = {model: model.objects.count() for model in unchanged}
    with pytest.raises(IntegrityError) as refusal, transaction.atomic():
        yield
    cause = refusal.value.__cause__
    assert cause.diag.constraint_name == constraint, f"refused by another rule: {cause}"
    assert {model: model.objects.count() for model in unchanged} == counts


def insert_bag(qr_id: str, kind: str, *, product_id: int | None = None, child_count: int = 0, completed_at=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(INSERT_BAG, [qr_id, kind, product_id, child_count, completed_at])
        return cursor.fetchone()[0]


def insert_link(parent_id: int, child_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute(INSERT_LINK, [parent_id, child_id])
        return cursor.fetchone()[0]


def delete_bag(bag_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(DELETE_BAG, [bag_id])
