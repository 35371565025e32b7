"""The bag API (described in tracking/openapi.py): a bag with its parent or children, bill and last scans,
where it was at a time (``?at=``), and its whole story."""

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bags import qr
from bags.managers import BagDetail, visible_area
from scanning import selectors as scanning_selectors
from scanning.error_codes import ScanRefusal
from tracking import story
from traitortrack.errors import EdgeRefusal, Refused
from traitortrack.permissions import LOGGED_IN, access


def _detail(request: HttpRequest, code: str, *, scans: int) -> BagDetail:
    try:
        detail = scanning_selectors.bag_detail(user=request.user, code=code, scans=scans)
    except qr.QRCodeError as error:
        raise Refused(error.code, error.message, status=422) from error
    if detail is None:
        raise Refused(
            ScanRefusal.UNKNOWN_BAG,
            gettext("No bag %(code)s that you can see.") % {"code": code.strip().upper()},
            status=404,
        )
    return detail


@access(LOGGED_IN)
@never_cache
@require_GET
def bag_lookup(request: HttpRequest, code: str) -> JsonResponse:
    at = None
    if "at" in request.GET:
        try:
            at = story.parse_at(request.GET["at"])
        except ValueError as error:
            raise Refused(EdgeRefusal.INVALID, str(error), status=400, errors={"at": [str(error)]}) from error
    detail = _detail(request, code, scans=scanning_selectors.RECENT_SCANS)
    answer = {"ok": True, **scanning_selectors.lookup_json(detail)}
    if at is not None:
        restricted, area_id = visible_area(request.user)
        bag = detail.bag
        state = story.as_of(
            bag.qr_id, kind=bag.kind, created_at=bag.created_at, at=at, restricted=restricted, area_id=area_id
        )
        answer["as_of"] = story.as_of_json(state)
    return JsonResponse(answer)


@access(LOGGED_IN)
@never_cache
@require_GET
def bag_story(request: HttpRequest, code: str) -> JsonResponse:
    bag = _detail(request, code, scans=0).bag
    restricted, area_id = visible_area(request.user)
    events = story.timeline(bag.qr_id, restricted=restricted, area_id=area_id)
    return JsonResponse(
        {"ok": True, "bag": bag.qr_id, "events": [story.timeline_json(event, bag_qr=bag.qr_id) for event in events]}
    )
