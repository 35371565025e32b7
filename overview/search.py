"""The search page's form and what it searches: bags by code prefix (every role, a dispatcher in their own
area), bills (billers and admins) and users (admins), each with its filters and a page at a time.

"Everything" shows the first few of each kind of result the filters apply to (a bill has no bag kind, so
``kind=parent`` leaves bills out); picking one kind shows it page after page, filters kept in the links.
"""

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.models import DispatchArea, Role, User
from accounts.selectors import UserSearch, UserStatus, search_users
from bags import qr
from bags.models import BagKind, Product
from bags.selectors import BagSearch, BagStatus, SearchTooBroad, code_prefix, exact_bag, search_bags
from bills.models import Bill, BillStatus
from traitortrack.forms import DayField
from traitortrack.pagination import KeysetPage, keyset_page

PAGE_SIZE = 25
# Rows of each kind on the "Everything" page.
PREVIEW_SIZE = 5

BAGS, BILLS, USERS = "bags", "bills", "users"
TITLES = {BAGS: _("Bags"), BILLS: _("Bills"), USERS: _("Users")}
# The filters each kind of result understands (and the status values of each).
FILTERS = {
    BAGS: {"kind", "product", "area", "status", "date_from", "date_to"},
    BILLS: {"product", "status", "date_from", "date_to"},
    USERS: {"role", "area", "status", "date_from", "date_to"},
}
STATUSES = {BAGS: BagStatus.CHOICES, BILLS: BillStatus.choices, USERS: UserStatus.CHOICES}


def searchable(user: User) -> list[str]:
    """What this user may search: bags for everyone, bills for billers and admins, users for admins."""
    return [BAGS] + ([BILLS] if user.is_biller or user.is_admin else []) + ([USERS] if user.is_admin else [])


class SearchForm(forms.Form):
    """The search box and its filters. A filter value that does not parse is ignored, never an error page (its
    field says why); a code start no code can have gets a message."""

    q = forms.CharField(required=False, max_length=64, label=_("Code, bill number, customer or user"))
    show = forms.ChoiceField(required=False, label=_("Show"))
    kind = forms.ChoiceField(required=False, choices=[("", _("Any kind")), *BagKind.choices], label=_("Bag kind"))
    product = forms.ModelChoiceField(
        required=False,
        queryset=Product.objects.order_by("name"),
        to_field_name="code",
        empty_label=_("Any product"),
        label=_("Product"),
    )
    area = forms.ModelChoiceField(
        required=False,
        queryset=DispatchArea.objects.order_by("name"),
        to_field_name="code",
        empty_label=_("Any area"),
        label=_("Area"),
    )
    status = forms.ChoiceField(required=False, label=_("Status"))
    role = forms.ChoiceField(required=False, choices=[("", _("Any role")), *Role.choices], label=_("Role"))
    date_from = DayField(required=False, label=_("From"))
    date_to = DayField(required=False, label=_("To"))
    # The page link's: the last row shown (a code, an id, or a time and an id), never typed.
    after = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, data: Any, *, user: User) -> None:
        super().__init__(data)
        self.targets = searchable(user)
        self.user = user
        self.fields["show"].choices = [("", _("Everything"))] + [(target, TITLES[target]) for target in self.targets]
        self.fields["status"].choices = [("", _("Any status"))] + [
            (TITLES[target], list(STATUSES[target])) for target in self.targets
        ]
        # The box names only what this user can find (a dispatcher has no bills or users to search).
        self.fields["q"].label = (
            _("Code, bill number, customer or user")
            if USERS in self.targets
            else _("Code, bill number or customer")
            if BILLS in self.targets
            else _("Bag code")
        )
        if user.is_dispatcher:  # a dispatcher sees one area: theirs
            del self.fields["area"]
        if not user.is_admin:
            del self.fields["role"]
        # The options read with one plain query each: a model field's own reads them through a server-side
        # cursor (DECLARE, FETCH, CLOSE: four round trips) every time the page is drawn.
        for name in ("product", "area"):
            if name in self.fields:
                choice = self.fields[name]
                choice.choices = [("", choice.empty_label), *choice.queryset.values_list("code", "name")]
        for name in self.FILTERS:
            if name in self.fields:
                widget = self.fields[name].widget
                widget.attrs["class"] = "form-select" if isinstance(widget, forms.Select) else "form-control"

    # The filters the page shows under the search box (``after`` is the page link's, never the form's).
    FILTERS = ("show", "kind", "product", "area", "status", "role", "date_from", "date_to")

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.FILTERS if name in self.fields]

    def values(self) -> dict[str, Any]:
        """The filters that parsed (empty ones left out)."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        fields = (*self.FILTERS, "after")
        return {name: cleaned[name] for name in fields if cleaned.get(name) not in (None, "")}


@dataclass
class Section:
    target: str
    title: str
    page: KeysetPage
    # On the "Everything" page a section shows a few rows and links to the whole list.
    preview: bool = False


@dataclass
class SearchResult:
    query: str
    sections: list[Section] = field(default_factory=list)
    error: str | None = None
    exact_bag: str | None = None
    # What the filters left out of "Everything" (a bill has no bag kind...).
    left_out: list[str] = field(default_factory=list)


def run_search(form: SearchForm) -> SearchResult:
    """What the form asks for: one kind of result a page at a time, or the first few of each kind the filters
    apply to. A refusal (a code start no code has, a search too broad) is the result's ``error``."""
    user = form.user
    filters = form.values()
    text = (form.cleaned_data.get("q") or "").strip() if hasattr(form, "cleaned_data") else ""
    result = SearchResult(query=text)
    show = filters.pop("show", "")
    after = filters.pop("after", None)
    if show:
        targets, size = [show], PAGE_SIZE
    else:
        given = set(filters)
        targets = [t for t in form.targets if given <= FILTERS[t] and _status_fits(t, filters.get("status"))]
        result.left_out = [TITLES[t] for t in form.targets if t not in targets]
        size, after = PREVIEW_SIZE, None
    for target in targets:
        own = {name: value for name, value in filters.items() if name in FILTERS[target]}
        if not _status_fits(target, own.get("status")):
            own.pop("status", None)  # a bill status left over from searching bills, say
        try:
            page = SEARCHES[target](user, text, own, after=after, size=size)
        except SearchTooBroad as refusal:
            result.error = refusal.message
            continue
        except qr.QRCodeError as refusal:
            if show:
                result.error = refusal.message
            else:  # words for a customer or a user, say: no bag code starts like that
                result.left_out.append(
                    gettext("%(what)s (no bag code starts with “%(text)s”)") % {"what": TITLES[target], "text": text}
                )
            continue
        result.sections.append(Section(target, TITLES[target], page, preview=not show))
    if text and after is None and BAGS in targets:
        result.exact_bag = exact_bag(user, text)
    return result


def _status_fits(target: str, status: str | None) -> bool:
    return not status or status in {value for value, _ in STATUSES[target]}


def _bags(user: User, text: str, filters: dict[str, Any], *, after: str | None, size: int) -> KeysetPage:
    search = BagSearch(prefix=code_prefix(text), **filters)
    return search_bags(user, search, after=after, size=size)


def _bills(user: User, text: str, filters: dict[str, Any], *, after: str | None, size: int) -> KeysetPage:
    bills = Bill.objects.search(text=text, **filters)
    return keyset_page(bills, after=after, size=size)


def _users(user: User, text: str, filters: dict[str, Any], *, after: str | None, size: int) -> KeysetPage:
    page = search_users(UserSearch(text=text, **filters), after=after, size=size)
    labels = dict(Role.choices)
    for row in page.rows:
        row["role_label"] = labels.get(row["role"], row["role"])
    return page


SEARCHES = {BAGS: _bags, BILLS: _bills, USERS: _users}
