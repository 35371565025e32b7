"""The check every /api/ answer goes through (tests/openapi.py) fails on drift, so it can fail at all."""

import pytest
from django.http import HttpResponse, JsonResponse
from django.test import RequestFactory

from tests.openapi import check_api_answer


def answered(path: str, response: HttpResponse, method: str = "get") -> HttpResponse:
    response.wsgi_request = getattr(RequestFactory(), method)(path)
    return response


def test_a_documented_answer_passes():
    check_api_answer(
        answered("/api/nope", JsonResponse({"ok": False, "code": "not_found", "message": "No."}, status=404))
    )


@pytest.mark.parametrize(
    ("path", "response", "complaint"),
    [
        # An action the enum does not have (as 'import' once was, missing from the document).
        ("/api/scan/recent", JsonResponse({"scans": [{"id": 1, "action": "teleport"}]}), "not the documented"),
        ("/api/nope", JsonResponse({"ok": False, "code": "made_up", "message": "No."}, status=404), "Error body"),
        ("/api/bills", JsonResponse({"ok": False, "message": "No code."}, status=401), "not the documented"),
        ("/api/scan/child", HttpResponse(b"", status=405), "in text/html"),
    ],
)
def test_an_answer_outside_the_document_fails_the_test(path, response, complaint):
    with pytest.raises(AssertionError, match=complaint):
        check_api_answer(answered(path, response))
