"""The database itself holds the role rules: a dispatcher has an area, only admins reach the Django admin."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import ProtectedError

from accounts.models import DispatchArea, Role, User
from tests import factories
from tests.db import refused_by


def test_dispatcher_without_area_is_refused_by_database(db):
    with refused_by("user_dispatcher_has_area", User):
        User.objects.bulk_create([User(username="dora", role=Role.DISPATCHER, dispatch_area=None)])


def test_removing_a_dispatchers_area_is_refused_by_database(db):
    dispatcher = factories.make_user(role=Role.DISPATCHER)

    with refused_by("user_dispatcher_has_area"):
        User.objects.filter(pk=dispatcher.pk).update(dispatch_area=None)

    dispatcher.refresh_from_db()
    assert dispatcher.dispatch_area_id is not None


def test_demoting_an_arealess_biller_to_dispatcher_is_refused_by_database(db):
    biller = factories.make_user(role=Role.BILLER)

    with refused_by("user_dispatcher_has_area"):
        User.objects.filter(pk=biller.pk).update(role=Role.DISPATCHER)


@pytest.mark.parametrize("role", [Role.BILLER, Role.ADMIN])
def test_billers_and_admins_need_no_area(db, role):
    is_admin = role == Role.ADMIN
    User.objects.bulk_create(
        [User(username="nobody-in-particular", role=role, is_staff=is_admin, is_superuser=is_admin)]
    )

    assert User.objects.get(username="nobody-in-particular").dispatch_area is None


def test_unknown_role_is_refused_by_database(db):
    with refused_by("user_role_valid", User):
        User.objects.bulk_create([User(username="mallory", role="owner")])


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.BILLER])
def test_staff_who_is_not_admin_is_refused_by_database(area, role):
    with refused_by("user_role_decides_admin_access", User):
        User.objects.bulk_create([User(username="stella", role=role, dispatch_area=area, is_staff=True)])


@pytest.mark.parametrize("role", [Role.DISPATCHER, Role.BILLER])
def test_superuser_who_is_not_admin_is_refused_by_database(area, role):
    with refused_by("user_role_decides_admin_access", User):
        User.objects.bulk_create([User(username="sue", role=role, dispatch_area=area, is_superuser=True)])


def test_demoting_a_staff_admin_without_removing_staff_is_refused_by_database(db):
    admin = factories.make_user(role=Role.ADMIN)
    # Only the staff flag stands in the way: superuser is cleared in the same write.
    with refused_by("user_role_decides_admin_access"):
        User.objects.filter(pk=admin.pk).update(role=Role.BILLER, is_superuser=False)

    admin.refresh_from_db()
    assert (admin.role, admin.is_staff) == (Role.ADMIN, True)


@pytest.mark.parametrize(("is_staff", "is_superuser"), [(False, False), (True, False), (False, True)])
def test_admin_without_staff_and_superuser_is_refused_by_database(db, is_staff, is_superuser):
    with refused_by("user_role_decides_admin_access", User):
        User.objects.bulk_create(
            [User(username="half-admin", role=Role.ADMIN, is_staff=is_staff, is_superuser=is_superuser)]
        )


def test_ticking_superuser_on_a_dispatcher_is_refused_by_database(db):
    dispatcher = factories.make_user(role=Role.DISPATCHER)

    with refused_by("user_role_decides_admin_access"):
        User.objects.filter(pk=dispatcher.pk).update(is_superuser=True)

    dispatcher.refresh_from_db()
    assert not dispatcher.is_superuser


def test_create_superuser_makes_an_admin(db):
    superuser = User.objects.create_superuser("root", "root@example.com", factories.PASSWORD)

    assert (superuser.role, superuser.is_staff, superuser.is_superuser) == (Role.ADMIN, True, True)


def test_dispatcher_in_a_missing_area_is_refused_by_database(db):
    # Django's foreign keys are checked at commit; asking for the check now shows the database holds it.
    # The savepoint's rollback restores the deferred mode for the rest of the test.
    with pytest.raises(IntegrityError) as refusal, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        User.objects.bulk_create([User(username="dora", role=Role.DISPATCHER, dispatch_area_id=10**12)])

    # Django names its foreign keys with a hash suffix; the prefix says which one fired.
    assert refusal.value.__cause__.diag.constraint_name.startswith("accounts_user_dispatch_area_id_")
    assert not User.objects.filter(username="dora").exists()


def test_deleting_an_area_with_dispatchers_is_refused_by_the_orm(area):
    factories.make_user(role=Role.DISPATCHER, area=area)

    with pytest.raises(ProtectedError):
        area.delete()

    assert DispatchArea.objects.filter(pk=area.pk).exists()
