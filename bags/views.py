"""The bag page: one bag with its parent or children, its bill and its scan history (linked from search
results, the dashboard and other bags)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from bags.qr import QRCodeError
from scanning import selectors
from traitortrack.permissions import LOGGED_IN, access

# The page lists this many of the bag's latest scans (a parent has one per child scanned in, and the opening).
SCAN_HISTORY = 100


@access(LOGGED_IN)
@require_GET
def bag_detail(request: HttpRequest, code: str) -> HttpResponse:
    try:
        detail = selectors.bag_detail(user=request.user, code=code, scans=SCAN_HISTORY)
    except QRCodeError as refusal:
        return render(request, "bags/detail.html", {"code": code, "missing": refusal.message}, status=404)
    if detail is None:
        missing = f"No bag {code.strip().upper()} that you can see."
        return render(request, "bags/detail.html", {"code": code, "missing": missing}, status=404)
    context = {
        "detail": detail,
        "scans": selectors.scan_history(detail.scans),
        "scans_title": f"Scan history (latest {SCAN_HISTORY})" if len(detail.scans) == SCAN_HISTORY else "Scan history",
    }
    return render(request, "bags/detail.html", context)
