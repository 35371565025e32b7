"""Who may use which page and endpoint: each view states it where it is defined, ``@access(BILLER)``
(a class-based view: ``access = BILLER`` on the class), and accounts.middleware.AccessMiddleware reads
it from the resolved view, as Django's LoginRequiredMiddleware reads ``login_required``. A view that
states nothing is refused to everyone (fail closed), and the system check below and
tests/traitortrack/test_authorization_matrix.py both name it, so a new page cannot ship undeclared.

Two more facts live on the view: ``otp_exempt`` (an admin who has not passed the second factor may
still open it: the 2FA pages, login, the probes) and ``unattended`` (a page's own refreshes, which do not
put the idle logout off: accounts.middleware.SessionTimeoutMiddleware).

Area isolation (a dispatcher sees only their dispatch area) is not a per-URL question: it lives in
``Bag.objects.restrict(user)`` and the scan services, below this declaration.
"""

import enum
from collections.abc import Callable, Iterator

from django.core import checks


class Access(enum.Enum):
    """Who may use a view, from the widest to the narrowest."""

    PUBLIC = "public"  # anyone, logged in or not
    LOGGED_IN = "logged_in"  # any role: dispatcher, biller, admin
    BILLER = "biller"  # billers and admins
    ADMIN = "admin"  # admins only (who also pass the second factor: accounts.middleware)

    def allows(self, user) -> bool:
        if self is Access.PUBLIC:
            return True
        if not user.is_authenticated:
            return False
        if self is Access.LOGGED_IN:
            return True
        if self is Access.BILLER:
            return user.handles_bills
        return user.is_admin


PUBLIC, LOGGED_IN, BILLER, ADMIN = Access.PUBLIC, Access.LOGGED_IN, Access.BILLER, Access.ADMIN


def access(level: Access, *, otp_exempt: bool = False, unattended: bool = False) -> Callable[[Callable], Callable]:
    """Declares who may use a function view (outermost, so no decorator hides it)."""

    def declare(view: Callable) -> Callable:
        view.access = level
        view.otp_exempt = otp_exempt
        view.unattended = unattended
        return view

    return declare


def _declaring(view: Callable) -> object | None:
    # A function view carries it, a class-based one's class does (as_view keeps it at view_class).
    for holder in (view, getattr(view, "view_class", None)):
        if isinstance(getattr(holder, "access", None), Access):
            return holder
    return None


def access_of(view: Callable) -> Access | None:
    """The view's declared access; None when it declares none (the caller refuses it)."""
    holder = _declaring(view)
    return holder.access if holder is not None else None


def is_otp_exempt(view: Callable) -> bool:
    return getattr(_declaring(view), "otp_exempt", False)


def is_unattended(view: Callable) -> bool:
    return getattr(_declaring(view), "unattended", False)


def url_views(patterns=None, namespace: str = "") -> Iterator[tuple[str, Callable]]:
    """Every (view name, view) of the URL conf, the name as ResolverMatch.view_name writes it (unnamed
    patterns by their view's dotted path, as Django does)."""
    from django.urls import URLResolver, get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from url_views(pattern.url_patterns, inner)
        else:
            yield namespace + (pattern.name or pattern.lookup_str), pattern.callback


def undeclared_view_names() -> list[str]:
    return sorted({name for name, view in url_views() if access_of(view) is None})


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_every_url_is_declared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"The URL name {name!r} declares no access (traitortrack.permissions.access), so everyone is refused.",
            hint="Decorate it with @access(PUBLIC | LOGGED_IN | BILLER | ADMIN), or set access on its class.",
            id="traitortrack.E001",
        )
        for name in undeclared_view_names()
    ]
