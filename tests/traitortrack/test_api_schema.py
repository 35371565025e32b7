"""A property-based run over the served API document (schemathesis): for every operation, requests made
from the document (valid and not) go through the whole WSGI app, its middleware and CSRF check included,
logged in as a biller, against real rows. No answer may be a 5xx, and each must be what the document
says: a documented status (or the default Error body), JSON, and matching its schema.

The number of generated requests per operation is printed at the end of each operation's test.
"""

from collections import Counter, defaultdict

import pytest
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from django.utils.crypto import get_random_string
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Role
from scanning import services as scanning
from tests import factories
from tests.openapi import api_document

# Examples per operation: enough to reach each refusal path, small enough for the suite's time budget.
EXAMPLES_PER_OPERATION = 25
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SENT: Counter[str] = Counter()
STATUSES: defaultdict[str, Counter[int]] = defaultdict(Counter)

api = schemathesis.openapi.from_dict(api_document())
api.app = WSGIHandler()


@pytest.fixture
def session(db, area, mustard, terminal):
    """A logged-in biller's cookies and CSRF header, with a parent, a child and a bill to find."""
    biller = factories.make_user("schema-biller", role=Role.BILLER)
    dispatcher = factories.make_user("schema-dispatcher", area=area)
    scanning.open_parent(user=dispatcher, raw_code="SB00001", client_scan_id="schema-open-1")
    scanning.scan_child(user=dispatcher, parent_code="SB00001", raw_code="C0000001", client_scan_id="schema-child-1")
    factories.make_bill(biller, bill_number="SCHEMA-1")
    client = Client()
    client.force_login(biller)
    csrf = get_random_string(32)
    cookies = {
        django_settings.SESSION_COOKIE_NAME: client.cookies[django_settings.SESSION_COOKIE_NAME].value,
        django_settings.CSRF_COOKIE_NAME: csrf,
    }
    # As Django's test client does: the handler must not close the connection that holds the test's
    # transaction at the end of each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {"cookies": cookies, "headers": {"X-CSRFToken": csrf}}
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def terminal(request, capsys):
    yield
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATUSES[request.node.name].items()))
    with capsys.disabled():
        print(f"\n{request.node.name}: {SENT[request.node.name]} requests ({statuses})")


@api.parametrize()
@hypothesis_settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,  # the same requests every run
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_answers_as_documented(case, session, request):
    SENT[request.node.name] += 1
    # The document's security schemes make schemathesis send its own (empty) session and token: ours win.
    case.headers = {**(case.headers or {}), **session["headers"]}
    case.cookies = {**(case.cookies or {}), **session["cookies"]}
    response = case.call_and_validate(checks=CHECKS)
    STATUSES[request.node.name][response.status_code] += 1
