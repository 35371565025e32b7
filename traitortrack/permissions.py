"""Who may use which page and endpoint: the one declaration, enforced by
traitortrack.middleware.RolePermissionMiddleware for every request the URL conf resolves.

Each URL name (``namespace:name`` as ``ResolverMatch.view_name`` writes it) is given an Access level. A rule
ending in ``*`` covers every name that starts with what comes before it (the Django admin's many pages). A
name the declaration does not cover is refused to everyone (fail closed), and the system check below and
tests/traitortrack/test_authorization_matrix.py both name it, so a new page cannot ship undeclared.

Area isolation (a dispatcher sees only their dispatch area) is not a per-URL question: it lives in
``Bag.objects.restrict(user)`` and the scan services, below this declaration.
"""

import enum

from django.core import checks

from accounts.models import Role


class Access(enum.Enum):
    """Who may use a URL, from the widest to the narrowest."""

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
            return user.role in (Role.BILLER, Role.ADMIN)
        return user.role == Role.ADMIN


PUBLIC, LOGGED_IN, BILLER, ADMIN = Access.PUBLIC, Access.LOGGED_IN, Access.BILLER, Access.ADMIN

URL_ACCESS: dict[str, Access] = {
    # Load balancer probes and the API document (it holds no data).
    "health": PUBLIC,
    "ready": PUBLIC,
    "openapi": PUBLIC,
    # Database, cache, workers' requests and errors: admins only.
    "system": ADMIN,
    "home": LOGGED_IN,
    # Every role searches and opens bags (a dispatcher only their area's: bags.selectors, Bag.objects.restrict);
    # bills show to billers and admins, users to admins (traitortrack.search.searchable).
    "search": LOGGED_IN,
    # Everyone's figures; a dispatcher's are their area's, without bills (traitortrack.dashboard).
    "dashboard": LOGGED_IN,
    "dashboard-stats": LOGGED_IN,
    "bags:detail": LOGGED_IN,
    # Logging in and out, and the reset-by-e-mail pages, come before there is a session.
    "accounts:login": PUBLIC,
    "accounts:logout": PUBLIC,
    "accounts:password_reset": PUBLIC,
    "accounts:password_reset_done": PUBLIC,
    "accounts:password_reset_confirm": PUBLIC,
    "accounts:password_reset_complete": PUBLIC,
    "accounts:password_change": LOGGED_IN,
    "accounts:password_change_done": LOGGED_IN,
    "accounts:otp_setup": LOGGED_IN,
    "accounts:otp_recovery_codes": LOGGED_IN,
    "accounts:otp_verify": LOGGED_IN,
    # Any user may ask for a higher role and read the answer; admins decide in the admin.
    "accounts:promotion": LOGGED_IN,
    "accounts:notifications": LOGGED_IN,
    # The dispatcher's loop: every role scans (dispatchers only in their own area, enforced by the services).
    "scanning:scan": LOGGED_IN,
    "scanning:lookup": LOGGED_IN,
    "scanning:api-parent": LOGGED_IN,
    "scanning:api-child": LOGGED_IN,
    "scanning:api-undo": LOGGED_IN,
    "scanning:api-complete": LOGGED_IN,
    "scanning:api-recent": LOGGED_IN,
    "scanning:api-bag": LOGGED_IN,
    # Bills: billers and admins, pages and API alike.
    "bills:*": BILLER,
    # Exports: billers and admins; the audit log only for admins.
    "exports:*": BILLER,
    "exports:audit": ADMIN,
    # The admin's own login page only sends to ours (accounts.otp.TraitorTrackAdminSite.login).
    "admin:login": PUBLIC,
    "admin:*": ADMIN,
}


def access_for(view_name: str) -> Access | None:
    """The declared access of a URL name: an exact entry first, then the longest matching ``*`` rule;
    None when nothing covers it (the caller refuses it)."""
    if view_name in URL_ACCESS:
        return URL_ACCESS[view_name]
    prefixes = [rule for rule in URL_ACCESS if rule.endswith("*") and view_name.startswith(rule[:-1])]
    if not prefixes:
        return None
    return URL_ACCESS[max(prefixes, key=len)]


def view_names(patterns=None, namespace: str = ""):
    """Every view name of the URL conf, as ResolverMatch.view_name writes it (unnamed patterns by their
    view's dotted path, as Django does)."""
    from django.urls import URLResolver, get_resolver

    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from view_names(pattern.url_patterns, inner)
        else:
            yield namespace + (pattern.name or pattern.lookup_str)


def undeclared_view_names() -> list[str]:
    return sorted({name for name in view_names() if access_for(name) is None})


@checks.register(checks.Tags.security, checks.Tags.urls)
def check_every_url_is_declared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    return [
        checks.Error(
            f"The URL name {name!r} has no entry in traitortrack.permissions.URL_ACCESS, so everyone is refused.",
            hint="Declare who may use it (PUBLIC, LOGGED_IN, BILLER or ADMIN).",
            id="traitortrack.E001",
        )
        for name in undeclared_view_names()
    ]
