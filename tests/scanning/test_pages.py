"""The scan page and the bag lookup page, through Django's test client (the browser tests are in tests/e2e)."""

import json
import re
import uuid

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import DispatchArea
from bags.managers import forget_parent_formats
from bags.models import Product
from scanning import services
from tests import factories

SCAN_URL = reverse("scanning:scan")
LOOKUP_URL = reverse("scanning:lookup")


@pytest.fixture
def dispatcher(db):
    return factories.make_user("dispatcher1")


@pytest.fixture
def dispatcher_client(client, dispatcher):
    client.force_login(dispatcher)
    return client


@pytest.fixture
def filled_parent(dispatcher):
    """SB12345 in the dispatcher's area holding two children, as the scan loop leaves it."""
    area = dispatcher.dispatch_area
    parent = factories.make_parent("SB12345", dispatch_area=area)
    for code in ("C1000001", "C1000002"):
        factories.link(parent, factories.make_child(code, dispatch_area=area))
    return parent


def scan_config(response) -> dict:
    match = re.search(r'<script id="scan-config" type="application/json">(.*?)</script>', response.content.decode())
    assert match, "the page carries its configuration as json_script"
    return json.loads(match.group(1))


@pytest.mark.parametrize("url", [SCAN_URL, LOOKUP_URL, LOOKUP_URL + "?code=SB12345"])
def test_pages_send_anonymous_users_to_the_login_page(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login") + "?next=")


def test_scan_page_has_one_visible_always_focused_scan_input(dispatcher_client):
    response = dispatcher_client.get(SCAN_URL)

    assert response.status_code == 200
    html = response.content.decode()
    inputs = re.findall(r"<input\b[^>]*>", html)
    scan_inputs = [tag for tag in inputs if 'id="scan-input"' in tag]
    assert len(scan_inputs) == 1
    scan_input = scan_inputs[0]
    for attribute in (
        'type="text"',
        'autocomplete="off"',
        'autocapitalize="characters"',
        'spellcheck="false"',
        'inputmode="text"',
        "autofocus",
    ):
        assert attribute in scan_input
    # Only the logout form's token besides it: no other field competes for the scanner's keystrokes.
    assert [tag for tag in inputs if tag is not scan_input and 'type="hidden"' not in tag] == []


def test_scan_page_sets_the_csrf_cookie_its_script_sends(dispatcher_client):
    response = dispatcher_client.get(SCAN_URL)

    assert response.cookies["csrftoken"].value


def test_scan_page_gives_its_script_the_user_parent_formats_and_recent_scans(dispatcher_client, dispatcher):
    services.open_parent(user=dispatcher, raw_code="sb12345", client_scan_id="page-test-open")
    services.scan_child(user=dispatcher, parent_code="SB12345", raw_code="C7000001", client_scan_id="page-test-link")

    config = scan_config(dispatcher_client.get(SCAN_URL))

    assert config["user_id"] == dispatcher.pk
    assert sorted(config["parent_formats"], key=lambda fmt: fmt["product"]) == [
        {"product": "Moong", "pattern": r"^M444\-[0-9]{5}$", "example": "M444-12345", "capacity": 30},
        {"product": "Mustard", "pattern": r"^SB[0-9]{5}$", "example": "SB12345", "capacity": 30},
    ]
    assert config["child_pattern"] == "^[A-Z0-9]{4,20}$"
    assert config["commands"] == {
        "done": "TT-CMD-DONE",
        "undo": "TT-CMD-UNDO",
        "new_parent": "TT-CMD-NEW-PARENT",
        "move": "TT-CMD-MOVE",
        "cancel": "TT-CMD-CANCEL",
    }
    assert [(scan["action"], scan["bag"]) for scan in config["recent_scans"]] == [
        ("link", "C7000001"),
        ("open_parent", "SB12345"),
    ]


def test_scan_page_queries_do_not_grow_with_the_scans_listed(dispatcher_client, dispatcher, django_assert_num_queries):
    services.open_parent(user=dispatcher, raw_code="SB12345", client_scan_id="page-count-open")
    for n in range(12):
        services.scan_child(
            user=dispatcher, parent_code="SB12345", raw_code=f"C70000{n:02d}", client_scan_id=f"page-count-{n:02d}"
        )
    dispatcher_client.get(SCAN_URL)  # the first request after login writes the session's timeout stamps

    with django_assert_num_queries(2):  # products' capacities, recent scans (the user and formats are kept)
        response = dispatcher_client.get(SCAN_URL)

    assert len(scan_config(response)["recent_scans"]) == 10


def test_scan_page_offers_billers_and_admins_the_areas_in_use_for_new_parents(client, dispatcher, verified_login):
    factories.make_area("Godown B")
    DispatchArea.objects.filter(pk=factories.make_area("Closed yard").pk).update(is_active=False)
    biller = factories.make_user("page-biller", role="biller")
    admin = factories.make_user("page-admin", role="admin")

    for user in (biller, admin):
        verified_login(client, user)
        html = client.get(SCAN_URL).content.decode()

        picker = re.search(r'<select id="area-select".*?</select>', html, re.S).group(0)
        assert re.findall(r"<option[^>]*>([^<]*)</option>", picker) == [
            "Choose an area",
            dispatcher.dispatch_area.name,
            "Godown B",
        ]
    client.force_login(dispatcher)
    response = client.get(SCAN_URL)
    assert 'id="area-select"' not in response.content.decode()
    assert scan_config(response)["areas"] is None


def test_scan_page_api_urls_are_the_api_routes(dispatcher_client):
    html = dispatcher_client.get(SCAN_URL).content.decode()

    for name, attribute in [
        ("api-parent", "data-parent-url"),
        ("api-child", "data-child-url"),
        ("api-undo", "data-undo-url"),
        ("api-complete", "data-complete-url"),
    ]:
        assert f'{attribute}="{reverse("scanning:" + name)}"' in html
    assert 'data-login-url="/accounts/login/?next=/scan/"' in html


def test_scan_page_has_no_inline_script(dispatcher_client):
    # A Content-Security-Policy without 'unsafe-inline' is coming; data goes in json_script, code in files.
    html = dispatcher_client.get(SCAN_URL).content.decode()

    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, flags=re.S)
    assert scripts
    for attributes, body in scripts:
        assert 'type="application/json"' in attributes or ("src=" in attributes and not body.strip())
    assert "http://" not in html and "https://" not in html, "every asset is served locally"


def bottom_bar(response) -> str:
    return re.search(r'<nav class="tt-bottom-bar".*?</nav>', response.content.decode(), flags=re.S).group(0)


def test_bottom_bar_links_home_scan_search_and_bags(dispatcher_client):
    bar = bottom_bar(dispatcher_client.get(SCAN_URL))

    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', bar)
    assert links == [
        (reverse("home"), "Home"),
        (SCAN_URL, "Scan"),
        (reverse("search"), "Search"),
        (reverse("tracking:bag-list"), "Bags"),
    ]
    assert 'aria-current="page">Scan<' in bar


def test_bottom_bar_has_bills_and_returns_instead_of_bags_for_those_who_may_open_them(client, db):
    client.force_login(factories.make_user("biller-bar", role="biller"))

    bar = bottom_bar(client.get(reverse("bills:list")))

    links = re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', bar)
    # Five links fit a 375 px phone (tests/e2e/test_phone_pages.py); Bags is on the home page.
    assert [label for _, label in links] == ["Home", "Scan", "Search", "Bills", "Returns"]
    assert (reverse("bills:list"), "Bills") in links
    assert (reverse("returns:list"), "Returns") in links
    assert 'aria-current="page">Bills<' in bar


def test_home_page_links_to_the_scan_page(dispatcher_client):
    html = dispatcher_client.get(reverse("home")).content.decode()

    assert f'href="{SCAN_URL}">Scan</a>' in html


def test_lookup_page_without_a_code_shows_the_form(dispatcher_client):
    response = dispatcher_client.get(LOOKUP_URL)

    assert response.status_code == 200
    assert 'name="code"' in response.content.decode()


def test_lookup_of_a_parent_shows_its_children_and_count(dispatcher_client, filled_parent, django_assert_num_queries):
    dispatcher_client.get(LOOKUP_URL)  # the first request after login writes the session's timeout stamps
    with django_assert_num_queries(1):  # the bag with its product, area, children, bill and scans; the user is kept
        response = dispatcher_client.get(LOOKUP_URL, {"code": " sb12345 "})

    assert response.status_code == 200
    html = response.content.decode()
    assert "SB12345" in html
    assert "2 / 30" in html
    assert "C1000001" in html and "C1000002" in html
    assert "Not on a bill" in html


def test_lookup_says_who_made_each_scan(dispatcher_client, dispatcher, django_assert_num_queries):
    loader = factories.make_user("loader2", area=dispatcher.dispatch_area)
    services.open_parent(user=dispatcher, raw_code="SB12346", client_scan_id=uuid.uuid4().hex)
    services.scan_child(user=loader, parent_code="SB12346", raw_code="C1000009", client_scan_id=uuid.uuid4().hex)
    dispatcher_client.get(LOOKUP_URL)  # the first request after login writes the session's timeout stamps

    with django_assert_num_queries(2):  # the bag detail, then who made the scans it shows
        response = dispatcher_client.get(LOOKUP_URL, {"code": "SB12346"})

    scans = [(scan["bag"], scan["by"]) for scan in response.context["scans"]]
    assert scans == [("C1000009", "loader2"), ("SB12346", "dispatcher1")]
    html = response.content.decode()
    assert "by loader2" in html and "by dispatcher1" in html


def test_lookup_of_a_parent_names_its_bill(dispatcher_client, dispatcher, filled_parent):
    biller = factories.make_user("biller1", role="biller")
    factories.put_on_bill(factories.make_bill(biller, bill_number="BILL-77", customer="Jaipur depot"), filled_parent)

    html = dispatcher_client.get(LOOKUP_URL, {"code": "SB12345"}).content.decode()

    assert "BILL-77" in html and "Jaipur depot" in html


def test_lookup_of_a_child_shows_its_parent(dispatcher_client, filled_parent):
    response = dispatcher_client.get(LOOKUP_URL, {"code": "c1000002"})

    assert response.status_code == 200
    html = response.content.decode()
    assert "C1000002" in html
    assert "In parent" in html
    assert f'href="{reverse("tracking:bag", args=["SB12345"])}"' in html
    assert "2 / 30" in html


def test_lookup_of_a_child_in_no_parent_says_so(dispatcher_client, dispatcher):
    factories.make_child("C5550001", dispatch_area=dispatcher.dispatch_area)

    html = dispatcher_client.get(LOOKUP_URL, {"code": "C5550001"}).content.decode()

    assert "Not in any parent bag." in html


def test_lookup_lists_the_bags_scans(dispatcher_client, dispatcher):
    services.open_parent(user=dispatcher, raw_code="SB22222", client_scan_id="lookup-open-1")
    services.scan_child(user=dispatcher, parent_code="SB22222", raw_code="C8000001", client_scan_id="lookup-link-1")

    html = dispatcher_client.get(LOOKUP_URL, {"code": "C8000001"}).content.decode()

    assert "Linked child" in html


def test_lookup_of_a_malformed_code_explains_why(dispatcher_client):
    response = dispatcher_client.get(LOOKUP_URL, {"code": "SB 12"})

    assert response.status_code == 400
    assert "a space inside it" in response.content.decode()


def test_lookup_of_an_unknown_bag_says_not_found(dispatcher_client):
    response = dispatcher_client.get(LOOKUP_URL, {"code": "SB99999"})

    assert response.status_code == 404
    assert "No bag SB99999 that you can see." in response.content.decode()


def test_dispatcher_does_not_see_another_areas_bag(dispatcher_client):
    factories.make_parent("SB33333", dispatch_area=factories.make_area())

    response = dispatcher_client.get(LOOKUP_URL, {"code": "SB33333"})

    assert response.status_code == 404


def test_biller_sees_every_areas_bag(client, filled_parent):
    client.force_login(factories.make_user("biller2", role="biller"))

    response = client.get(LOOKUP_URL, {"code": "SB12345"})

    assert response.status_code == 200
    assert "C1000001" in response.content.decode()


def test_the_scan_page_takes_the_parent_formats_from_the_product_table(dispatcher_client):
    Product.objects.create(code="chana", name="Chana", parent_prefix="CH-", parent_digits=6, capacity=40)
    forget_parent_formats()

    formats = scan_config(dispatcher_client.get(SCAN_URL))["parent_formats"]

    assert {"product": "Chana", "pattern": r"^CH\-[0-9]{6}$", "example": "CH-123456", "capacity": 40} in formats


def test_the_scan_script_keeps_no_copy_of_the_code_rules():
    script = (settings.BASE_DIR / "static" / "js" / "scan.js").read_text()

    assert not re.search(r"\[A-Z0-9\]|\[0-9\]|SB\d|M444", script)
