"""The bag page (``/bags/<code>/``): the bag, its parent or children and bill, its whole story and where it
was at any time (``?at=``); a supervisor's unlink of a child (scanning's service); and the admin's deletion of
a wrong bag, after a page listing what goes."""

import uuid

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bags.managers import visible_area
from bags.qr import QRCodeError
from scanning import selectors as scanning_selectors
from scanning import services as scanning_services
from tracking import services, story
from traitortrack.errors import Refused
from traitortrack.permissions import ADMIN, BILLER, LOGGED_IN, access


@access(LOGGED_IN)
@require_GET
def bag_page(request: HttpRequest, code: str) -> HttpResponse:
    """One bag with its parent or children and its bill (the bag detail, bags.managers), every event of its
    story, newest first, and with ``?at=`` where it was then. Two queries, three with ``?at=``."""
    try:
        detail = scanning_selectors.bag_detail(user=request.user, code=code, scans=0)
    except QRCodeError as refusal:
        return render(request, "tracking/bag.html", {"code": code, "missing": refusal.message}, status=404)
    if detail is None:
        missing = f"No bag {code.strip().upper()} that you can see."
        return render(request, "tracking/bag.html", {"code": code, "missing": missing}, status=404)
    bag = detail.bag
    restricted, area_id = visible_area(request.user)
    events = story.timeline(bag.qr_id, restricted=restricted, area_id=area_id)
    context = {
        "detail": detail,
        "events": [{**event, "text": story.sentence(event, bag_qr=bag.qr_id)} for event in events],
        "events_capped": len(events) == story.TIMELINE_LIMIT,
        "at": request.GET.get("at", ""),
        # The unlink form's id for scanning's exactly-once: a second press of the same form changes nothing.
        "unlink_id": uuid.uuid4().hex,
    }
    status = 200
    if context["at"]:
        try:
            at = story.parse_at(context["at"])
        except ValueError as error:
            context["at_error"], status = str(error), 400
        else:
            context["as_of"] = story.as_of(
                bag.qr_id, kind=bag.kind, created_at=bag.created_at, at=at, restricted=restricted, area_id=area_id
            )
    else:
        context["at"] = timezone.localtime().strftime("%Y-%m-%dT%H:%M:%S")
    return render(request, "tracking/bag.html", context, status=status)


@access(ADMIN)
@require_http_methods(["GET", "POST"])
def delete_bag(request: HttpRequest, code: str) -> HttpResponse:
    """The confirm page of a deletion, listing exactly what goes; its POST (with a reason) deletes."""
    reason = request.POST.get("reason", "") if request.method == "POST" else ""
    try:
        deletion = services.plan_deletion(user=request.user, code=code)
    except Refused as refusal:
        return render(request, "tracking/bag_delete.html", {"code": code, "refusal": refusal}, status=refusal.status)
    context = {"code": code, "deletion": deletion, "reason": reason, "max_reason": services.REASON_MAX_LENGTH}
    if request.method == "POST":
        try:
            done = services.delete_bag(user=request.user, code=code, reason=reason, request=request)
        except Refused as refusal:
            return render(
                request, "tracking/bag_delete.html", {**context, "error": refusal.message}, status=refusal.status
            )
        if done.children:
            message = gettext("Deleted %(code)s and its %(count)s children. Their story stays in the scan events.")
        else:
            message = gettext("Deleted %(code)s. Its story stays in the scan events.")
        messages.success(request, message % {"code": done.bag.qr_id, "count": len(done.children)})
        return redirect(reverse("tracking:bag", args=[done.parent.qr_id]) if done.parent else reverse("search"))
    return render(request, "tracking/bag_delete.html", context)


@access(BILLER)
@require_POST
def unlink_child(request: HttpRequest, code: str) -> HttpResponse:
    """The bag page's unlink form: scanning.services.supervisor_unlink takes the child out of its parent, with
    the reason, audited, exactly once per form (its client id); its sentence comes back on the bag page."""
    answer = scanning_services.supervisor_unlink(
        user=request.user,
        child_code=code,
        reason=request.POST.get("reason", ""),
        client_scan_id=request.POST.get("client_scan_id"),
        request=request,
    )
    say = messages.success if answer.status == 200 else messages.error
    say(request, answer.body["message"])
    return redirect("tracking:bag", code=code.strip().upper())
