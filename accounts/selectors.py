"""User reads for the search page (admins only: the page checks)."""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import DispatchArea, User
from traitortrack.forms import local_day_start
from traitortrack.pagination import KeysetPage, keyset_page


class UserStatus:
    ACTIVE = "active"
    INACTIVE = "inactive"
    CHOICES = [(ACTIVE, _("Active")), (INACTIVE, _("Inactive"))]


@dataclass(frozen=True)
class UserSearch:
    """A user search: ``text`` in the username, name or e-mail (any case); every part optional."""

    text: str = ""
    role: str = ""
    area: DispatchArea | None = None
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None


def search_users(search: UserSearch, *, after: str | None = None, size: int = 25) -> KeysetPage:
    """Users that match, newest account first, a page at a time; each row a dict with the username, name,
    role, area, whether active, when they joined and last logged in."""
    users = User.objects.all()
    text = search.text.strip()
    if text:
        users = users.filter(
            Q(username__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
            | Q(email__icontains=text)
        )
    if search.role:
        users = users.filter(role=search.role)
    if search.area is not None:
        users = users.filter(dispatch_area=search.area)
    if search.status:
        users = users.filter(is_active=search.status == UserStatus.ACTIVE)
    if search.date_from:
        users = users.filter(date_joined__gte=local_day_start(search.date_from))
    if search.date_to:
        users = users.filter(date_joined__lt=local_day_start(search.date_to + timedelta(days=1)))
    rows = users.values(
        "pk",
        "username",
        "first_name",
        "last_name",
        "role",
        "is_active",
        "date_joined",
        "last_login",
        area_name=F("dispatch_area__name"),
    )
    return keyset_page(rows, after=after, size=size)
