"""Every URL pattern of the project, found in the URL conf (so a new page cannot be forgotten), and a way to
turn one into a URL a test can request. Shared by the tests that walk the whole URL conf."""

import re

from django.urls import URLPattern, URLResolver, get_resolver

# An argument in a route, as <converter:name> (path) or (?P<name>...) (re_path).
ARGUMENT = re.compile(r"<(?:\w+:)?(?P<path_arg>\w+)>|\(\?P<(?P<regex_arg>\w+)>[^)]*\)")


def url_patterns(patterns=None, prefix: str = ""):
    """Every (route, pattern) of the URL conf, the route written as ResolverMatch.route writes it."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if prefix:
            route = prefix + route.removeprefix("^")
        if isinstance(pattern, URLResolver):
            yield from url_patterns(pattern.url_patterns, route)
        else:
            assert isinstance(pattern, URLPattern)
            yield route, pattern


def fill(route: str, pattern: URLPattern, objects: dict, *, no_row: str | None = None) -> str:
    """The route with each argument filled from ``objects`` (an admin ``object_id`` from the first row of
    its model), so the URL reaches a real object. A model without a row fails the test, unless ``no_row``
    is given to stand in for its id (for tests that only care who gets past the permission layer)."""
    model_admin = getattr(pattern.callback, "model_admin", None)

    def value(match: re.Match) -> str:
        name = match["path_arg"] or match["regex_arg"]
        if name == "object_id" and model_admin is not None:
            row = model_admin.model._default_manager.first()
            if row is None and no_row is not None:
                return no_row
            assert row is not None, f"no {model_admin.model.__name__} row for {route}: make one in the fixture"
            return str(row.pk)
        if name == "object_id":  # the admin's view_on_site shortcut, with content_type_id
            return str(objects["pk"])
        assert name in objects, f"no value for the argument {name!r} of {route}: add one to the fixture"
        return str(objects[name])

    return "/" + ARGUMENT.sub(value, route).removeprefix("^").removesuffix("$")


def url_arguments(*, bill, parent, user, ticket=None) -> dict:
    """Values for the URL conf's arguments, from real rows: what fill() puts into each route."""
    from django.contrib.contenttypes.models import ContentType
    from django.core.files.uploadedfile import SimpleUploadedFile

    from imports import jobs
    from labels.models import LabelBatch
    from tests.factories import make_printer

    # An admin upload queued for its dry run: the job pages', the job list's and procrastinate's rows.
    upload = jobs.store_upload(SimpleUploadedFile("links.csv", b"parent,child\n"), user)
    job = jobs.queue(subject="bags", file_name="links.csv", upload=upload, dry_run=True, requested_by=user)
    # The label admin's rows: a printer and a batch of printed codes.
    make_printer()
    LabelBatch.objects.create(product=parent.product, first_number=1, last_number=10, layout="a4-3x8")
    return {
        "job_id": job.pk,
        "pk": bill.pk,
        "bill_id": bill.pk,
        "ticket_id": ticket.pk if ticket is not None else 0,
        "code": parent.qr_id,
        "id": user.pk,
        "content_type_id": ContentType.objects.get_for_model(type(bill)).pk,
        "app_label": "bills",
        "url": "no-such-admin-page/",
        # A reset link that is no longer valid: the page says so.
        "uidb64": "MQ",
        "token": "no-such-token",
    }
