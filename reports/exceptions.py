"""The exceptions list: the problems a shift leaves behind, each row linking to the page that fixes it. Each
rule is one query for its first SHOWN rows (the loose children two, the refusal rates up to five), and one
count only when the rows reach SHOWN. None reads the 1.9 million children: the parent rules read the parents
(bag_parent_code_idx, bag_kind_created_idx), the others the partial indexes of reports/migrations/0003_* or
the small tables' status indexes.

A parent is listed once: opened on a past local day and still not complete, "not full at the end of its
day"; opened today and open longer than the threshold, "open too long". Parents on a bill are never open
problems (a bill may take parents that are not full). "Complete" is bags_parent_complete, through
bags.managers.parent_complete(), as everywhere else.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Exists, Max, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.models import Role, User
from bags.choices import BagKind
from bags.managers import parent_complete
from bags.models import Bag, Link
from bills.models import Bill, BillBag, BillStatus
from reports.models import ExceptionThresholds
from returns.choices import ReturnStatus
from returns.models import ReturnTicket
from scanning.choices import TAKES_CHILD_OUT
from scanning.error_codes import ScanRefusal
from scanning.models import Scan, ScanReply
from traitortrack.forms import local_day_start

SHOWN = 200
# The dispatcher's usual refusal rate is read over these local days before today.
USUAL_DAYS = 14
# A stored answer with this status or above is a refusal (reports/migrations/0003_*'s index holds them).
REFUSED_STATUS = 400
COUNT_CACHE_KEY = "reports:exceptions:count"
COUNT_CACHE_SECONDS = 60


@dataclass(frozen=True)
class Row:
    """One problem: what it is (``code``), a few words about it, since when, and where to fix it."""

    code: str
    detail: str
    since: datetime | None
    url: str


@dataclass(frozen=True)
class Rule:
    key: str
    title: Promise
    explanation: str
    rows: list[Row] = field(default_factory=list)
    total: int = 0

    @property
    def more(self) -> int:
        return self.total - len(self.rows)


@dataclass(frozen=True)
class _Moment:
    now: datetime
    today_start: datetime
    limits: ExceptionThresholds


def _moment(limits: ExceptionThresholds | None = None) -> _Moment:
    now = timezone.now()
    return _Moment(now, local_day_start(timezone.localdate(now)), limits or ExceptionThresholds.current())


def _not_on_a_bill() -> Exists:
    return ~Exists(BillBag.objects.current().filter(parent_bag=OuterRef("pk")))


def _open_parents() -> QuerySet[Bag]:
    return (
        Bag.objects.filter(kind=BagKind.PARENT)
        .alias(complete=parent_complete())
        .filter(complete=False)
        .filter(_not_on_a_bill())
    )


def _parents_not_full_at_day_end(at: _Moment) -> QuerySet[Bag]:
    return _open_parents().filter(created_at__lt=at.today_start)


def _parents_open_too_long(at: _Moment) -> QuerySet[Bag]:
    return _open_parents().filter(
        created_at__gte=at.today_start, created_at__lt=at.now - timedelta(hours=at.limits.open_parent_hours)
    )


def _full_parents_on_no_bill(at: _Moment) -> QuerySet[Bag]:
    return (
        Bag.objects.filter(
            kind=BagKind.PARENT, created_at__lt=at.now - timedelta(hours=at.limits.unbilled_parent_hours)
        )
        .alias(complete=parent_complete())
        .filter(complete=True)
        .filter(_not_on_a_bill())
    )


def _taken_out() -> QuerySet[Scan]:
    return Scan.objects.filter(action__in=TAKES_CHILD_OUT)


def _children_in_no_parent(at: _Moment) -> QuerySet[Scan]:
    """The take-out events of children now in no parent, one or more per child. Only a child whose events once
    took it out of a parent (undo, unlink) can be scanned yet in none: every other event puts it in one (and a
    deletion removes the bag). So it starts from those events' partial index, each checked against the link's
    unique index; starting from the 1.9 million children would read them all."""
    return (
        _taken_out().filter(bag__kind=BagKind.CHILD).filter(~Exists(Link.objects.filter(child_id=OuterRef("bag_id"))))
    )


def _old_draft_bills(at: _Moment) -> QuerySet[Bill]:
    return Bill.objects.filter(
        status=BillStatus.DRAFT, created_at__lt=at.now - timedelta(days=at.limits.draft_bill_days)
    )


def _old_draft_returns(at: _Moment) -> QuerySet[ReturnTicket]:
    return ReturnTicket.objects.filter(
        status=ReturnStatus.DRAFT, created_at__lt=at.now - timedelta(hours=at.limits.draft_return_hours)
    )


def _bag_url(code: str) -> str:
    return reverse("tracking:bag", args=[code])


def _parent_rows(parents: QuerySet[Bag]) -> list[Row]:
    return [
        Row(
            bag.qr_id,
            _("%(children)s of %(capacity)s children · %(area)s")
            % {
                "children": bag.child_count,
                "capacity": bag.product.capacity,
                "area": bag.dispatch_area.name if bag.dispatch_area else _("no area"),
            },
            bag.created_at,
            _bag_url(bag.qr_id),
        )
        for bag in parents.select_related("product", "dispatch_area").order_by("-created_at", "-pk")[:SHOWN]
    ]


def _child_rows(events: QuerySet[Scan]) -> list[Row]:
    children = list(
        events.values("bag_id", "bag__qr_id").annotate(out_at=Max("created_at")).order_by("-out_at", "-bag_id")[:SHOWN]
    )
    # Each one's last take-out names the parent it left: one more query, for the rows shown only.
    left = dict(
        _taken_out()
        .filter(bag_id__in=[child["bag_id"] for child in children])
        .order_by("bag_id", "-created_at", "-pk")
        .distinct("bag_id")
        .values_list("bag_id", "parent_qr")
    )
    return [
        Row(
            child["bag__qr_id"],
            _("taken out of %(parent)s") % {"parent": left[child["bag_id"]]} if left.get(child["bag_id"]) else "",
            child["out_at"],
            _bag_url(child["bag__qr_id"]),
        )
        for child in children
    ]


def _bill_rows(bills: QuerySet[Bill]) -> list[Row]:
    bills = bills.annotate(parents=Count("bill_bags")).order_by("created_at", "pk")
    return [
        Row(
            bill.bill_number,
            _("%(customer)s · %(parents)s of %(expected)s parents")
            % {"customer": bill.customer, "parents": bill.parents, "expected": bill.expected_parents},
            bill.created_at,
            reverse("bills:detail", args=[bill.pk]),
        )
        for bill in bills[:SHOWN]
    ]


def _return_rows(tickets: QuerySet[ReturnTicket]) -> list[Row]:
    tickets = tickets.annotate(parents=Count("entries")).order_by("created_at", "pk")
    return [
        Row(
            ticket.number,
            _("from %(source)s · %(parents)s parents") % {"source": ticket.source, "parents": ticket.parents},
            ticket.created_at,
            reverse("returns:detail", args=[ticket.pk]),
        )
        for ticket in tickets[:SHOWN]
    ]


@dataclass(frozen=True)
class RefusalRate:
    user_id: int
    username: str
    scans: int
    refusals: int
    usual: Decimal  # the usual rate, a fraction, before the floor

    @property
    def rate(self) -> Decimal:
        return Decimal(self.refusals) / self.scans


def _refusals(since: datetime, until: datetime | None = None) -> QuerySet[ScanReply]:
    # A harmless duplicate (already in this parent) is kept as a 409 but is no mistake.
    refusals = ScanReply.objects.filter(status__gte=REFUSED_STATUS, created_at__gte=since, user__role=Role.DISPATCHER)
    if until is not None:
        refusals = refusals.filter(created_at__lt=until)
    return refusals.exclude(body__code=str(ScanRefusal.ALREADY_IN_THIS_PARENT))


def _per_user(queryset: QuerySet) -> dict[int, int]:
    return dict(queryset.order_by().values("user_id").annotate(n=Count("*")).values_list("user_id", "n"))


def refusals_per_user(since: datetime, until: datetime) -> dict[int, int]:
    """Each dispatcher's refusals from ``since`` to ``until``, as the refusal-rate rule counts them."""
    return _per_user(_refusals(since, until))


def _high_refusal_rates(at: _Moment) -> list[RefusalRate]:
    """Dispatchers whose refusals today, out of their scans today (events plus refusals), exceed
    ``refusal_factor`` times their rate over the USUAL_DAYS local days before (at least the floor), with
    at least ``refusal_min_scans`` today. Three queries: today's refusals and events, then the usual days'
    only for the few dispatchers who could be listed."""
    limits = at.limits
    refused_today = _per_user(_refusals(at.today_start))
    if not refused_today:
        return []
    events_today = _per_user(Scan.objects.filter(created_at__gte=at.today_start, user_id__in=list(refused_today)))
    floor = Decimal(limits.refusal_floor_percent) / 100
    candidates = {}
    for user_id, refusals in refused_today.items():
        scans = events_today.get(user_id, 0) + refusals
        # Even at the floor the rate must be beaten: skip the usual days' query for who cannot be listed.
        if scans >= limits.refusal_min_scans and Decimal(refusals) / scans > limits.refusal_factor * floor:
            candidates[user_id] = (scans, refusals)
    if not candidates:
        return []
    usual_start = local_day_start(timezone.localdate(at.now) - timedelta(days=USUAL_DAYS))
    usual_refused = _per_user(_refusals(usual_start, at.today_start).filter(user_id__in=list(candidates)))
    usual_events = _per_user(
        Scan.objects.filter(created_at__gte=usual_start, created_at__lt=at.today_start, user_id__in=list(candidates))
    )
    names = dict(User.objects.filter(pk__in=list(candidates)).values_list("pk", "username"))
    listed = []
    for user_id, (scans, refusals) in candidates.items():
        usual_scans = usual_events.get(user_id, 0) + usual_refused.get(user_id, 0)
        usual = Decimal(usual_refused.get(user_id, 0)) / usual_scans if usual_scans else Decimal(0)
        if Decimal(refusals) / scans > limits.refusal_factor * max(usual, floor):
            listed.append(RefusalRate(user_id, names.get(user_id, ""), scans, refusals, usual))
    return sorted(listed, key=lambda row: (-row.rate, row.username))


def _refusal_rows(rates: list[RefusalRate]) -> list[Row]:
    return [
        Row(
            rate.username,
            _("%(refusals)s refused of %(scans)s scans today (%(rate)s%%); usually %(usual)s%%")
            % {
                "refusals": rate.refusals,
                "scans": rate.scans,
                "rate": round(rate.rate * 100),
                "usual": round(rate.usual * 100, 1),
            },
            None,
            reverse("dashboard"),
        )
        for rate in rates[:SHOWN]
    ]


@dataclass(frozen=True)
class _Spec:
    key: str
    title: Promise
    explain: Callable[[ExceptionThresholds], str]
    select: Callable[[_Moment], Any]
    rows: Callable[[Any], list[Row]]


def _count(selected: Any) -> int:
    if isinstance(selected, list):
        return len(selected)
    if selected.model is Scan:  # a child's take-out events: count the children
        return selected.values("bag_id").distinct().count()
    return selected.count()


RULES = [
    _Spec(
        "parents_not_full",
        _("Parents not full at the end of their day"),
        lambda limits: _("Opened on an earlier day, not full, not marked complete, on no bill."),
        _parents_not_full_at_day_end,
        _parent_rows,
    ),
    _Spec(
        "parents_open",
        _("Parents open too long"),
        lambda limits: (
            _("Opened today more than %(hours)s hours ago and still not full or complete.")
            % {"hours": limits.open_parent_hours}
        ),
        _parents_open_too_long,
        _parent_rows,
    ),
    _Spec(
        "children_loose",
        _("Children scanned but in no parent"),
        lambda limits: _("Taken out of a parent (undo or unlink) and not put into another."),
        _children_in_no_parent,
        _child_rows,
    ),
    _Spec(
        "parents_unbilled",
        _("Full parents on no bill"),
        lambda limits: (
            _("Full or marked complete, opened more than %(hours)s hours ago, and on no bill.")
            % {"hours": limits.unbilled_parent_hours}
        ),
        _full_parents_on_no_bill,
        _parent_rows,
    ),
    _Spec(
        "draft_bills",
        _("Draft bills"),
        lambda limits: _("Still a draft more than %(days)s days after it was made.") % {"days": limits.draft_bill_days},
        _old_draft_bills,
        _bill_rows,
    ),
    _Spec(
        "draft_returns",
        _("Draft return tickets"),
        lambda limits: (
            _("Still a draft more than %(hours)s hours after it was made.") % {"hours": limits.draft_return_hours}
        ),
        _old_draft_returns,
        _return_rows,
    ),
    _Spec(
        "refusals",
        _("Dispatchers refused far more often than usual"),
        lambda limits: (
            _("At least %(scans)s scans today and a refusal rate more than %(factor)s times their last %(days)s days.")
            % {"scans": limits.refusal_min_scans, "factor": limits.refusal_factor, "days": USUAL_DAYS}
        ),
        _high_refusal_rates,
        _refusal_rows,
    ),
]
RULE_KEYS = [spec.key for spec in RULES]


def open_exceptions(*, only: str | None = None) -> list[Rule]:
    """Every rule (or the one named ``only``) with its first SHOWN rows and its total."""
    at = _moment()
    rules = []
    for spec in RULES:
        if only and spec.key != only:
            continue
        selected = spec.select(at)
        rows = spec.rows(selected)
        total = len(rows) if len(rows) < SHOWN else _count(selected)
        rules.append(Rule(spec.key, spec.title, spec.explain(at.limits), rows, total))
    return rules


def remember_count(rules: list[Rule]) -> None:
    """Every rule's total, just counted for the page: the navbar's count need not count them again."""
    if len(rules) == len(RULES):
        cache.set(COUNT_CACHE_KEY, sum(rule.total for rule in rules), COUNT_CACHE_SECONDS)


def count_open_exceptions() -> int:
    """The rules' totals added up: counts only, no rows."""
    at = _moment()
    return sum(_count(spec.select(at)) for spec in RULES)


def cached_exception_count() -> int:
    """The navbar's count, kept COUNT_CACHE_SECONDS in the cache (whose alias shrugs off a Redis outage:
    then every page counts afresh)."""
    count = cache.get(COUNT_CACHE_KEY)
    if count is None:
        count = count_open_exceptions()
        cache.set(COUNT_CACHE_KEY, count, COUNT_CACHE_SECONDS)
    return count
