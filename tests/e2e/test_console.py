"""The web console (issue 14) in a real browser: headless Chromium driven by
Playwright, against the real platform with tokens on, the console started as
`make run` starts it (`python -m console`).

Search by customer and state, opening an order (its checks, payments and history),
cancelling from the page, a refused shipment showing the API's reason, the
live view updating while orders are placed, stock set by an admin, and the
token rules: no token gets the login page, a bad token is refused, a customer
sees only its own orders. Every page's screenshot is saved (see SHOTS)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from confluent_kafka import Producer
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from oms_client import OmsClient, state_name
from tests.support.console import running_console
from tests.support.orders import eventually, unique, unique_customer
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka]

SECRET = "console-test-secret-of-at-least-32-bytes"
# Where the pages' screenshots go: a folder of the run (make test leaves the
# tree clean); CONSOLE_SCREENSHOTS=docs/console renews the docs' pictures.
SHOTS = Path(os.environ.get("CONSOLE_SCREENSHOTS") or Path(tempfile.gettempdir()) / "oms-console-screenshots")
WAIT_MS = 30_000


def token(**claims: object) -> str:
    return jwt.encode({"sub": "console-test", "exp": int(time.time() + 3600), **claims}, SECRET, algorithm="HS256")


ADMIN = token(scope="oms:admin")


def launch(playwright: Playwright) -> Browser:
    """Debian's chromium when installed (make setup installs it), else the
    browser Playwright fetched for itself (`playwright install chromium`)."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=chromium, args=args) if chromium else playwright.chromium.launch()


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(
        bootstrap, tmp_path_factory.mktemp("console"), env={"OMS_AUTH_JWT_SECRET": SECRET}, partitions=2
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def console(platform: Platform) -> Iterator[str]:
    with running_console(platform) as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = launch(playwright)
        yield launched
        launched.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def admin(platform: Platform) -> Iterator[OmsClient]:
    with OmsClient(f"localhost:{platform.port}", token=ADMIN, timeout=20) as client:
        yield client


def sign_in(page: Page, console: str, with_token: str, then: str = "/orders") -> None:
    page.goto(f"{console}{then}")
    expect(page).to_have_url(f"{console}/login?next={then.replace('/', '%2F')}")
    page.get_by_label("Token").fill(with_token)
    page.get_by_role("button", name="Sign in").click()


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def validated(admin: OmsClient, customer_id: int, product: str) -> str:
    order_id = admin.place_order(customer_id=customer_id, product=product, quantity=1, price=9.5).order.order_id
    assert state_name(admin.wait_for_terminal(order_id, timeout=30).state) == "VALIDATED"
    return order_id


def test_no_token_gets_the_login_page_and_a_bad_token_is_refused(page: Page, console: str) -> None:
    page.goto(f"{console}/orders")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    forged = jwt.encode(
        {"sub": "x", "scope": "oms:admin", "exp": int(time.time() + 600)},
        "another-secret-32-bytes-long-!!!!",
        algorithm="HS256",
    )
    page.get_by_label("Token").fill(forged)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("error")).to_contain_text("refused")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "login")
    # Nor does the bad token get anywhere once stored: the orders page asks again.
    page.goto(f"{console}/orders")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_search_by_customer_and_state_then_open_an_order(page: Page, console: str, admin: OmsClient) -> None:
    customer = unique_customer()
    product = unique("SEARCH").upper()
    admin.set_stock(product, 100)
    kept = validated(admin, customer, product)
    failed = admin.place_order(
        customer_id=customer, product=unique("NOSTOCK").upper(), quantity=1, price=3
    ).order.order_id
    assert state_name(admin.wait_for_terminal(failed, timeout=30).state) == "FAILED"

    sign_in(page, console, ADMIN)
    expect(page.get_by_role("heading", name="Orders")).to_be_visible()
    page.get_by_label("Customer").fill(str(customer))
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("orders").locator("tbody tr")
    expect(rows).to_have_count(2)
    # Newest first.
    expect(rows.nth(0)).to_have_attribute("data-order", failed)
    page.get_by_label("State").select_option("FAILED")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{console}/orders?customer={customer}&state=FAILED&product=")
    expect(rows).to_have_count(1)
    shot(page, "orders")
    # A page at a time, with the API's page tokens.
    page.goto(f"{console}/orders?customer={customer}&size=1")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-order", failed)
    page.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-order", kept)
    page.get_by_role("link", name="First page").click()
    expect(rows.nth(0)).to_have_attribute("data-order", failed)
    page.get_by_role("link", name=failed).click()
    expect(page.get_by_test_id("state")).to_have_text("failed")
    expect(page.get_by_test_id("checks")).to_contain_text("inventory")
    expect(page.get_by_test_id("history").locator("li")).to_have_count(2)
    # A failed order is closed: nothing to cancel or ship.
    expect(page.get_by_role("button", name="Cancel order")).to_have_count(0)
    expect(page.get_by_test_id("payments")).to_have_count(0)
    expect(page.get_by_test_id("paid")).to_have_text("Paid 0.00 of 3.00: 3.00 outstanding.")
    # The order's payments (ListPayments) and their total against its amount.
    paid = admin.record_payment(order_id=kept, amount=4.0, currency="EUR").payment
    page.goto(f"{console}/orders/{kept}")
    expect(page.get_by_test_id("state")).to_have_text("validated")
    expect(page.get_by_role("button", name="Ship order")).to_be_visible()
    payment_rows = page.get_by_test_id("payments").locator("tbody tr")
    expect(payment_rows).to_have_count(1)
    expect(payment_rows.nth(0).locator("td")).to_have_text(
        [paid.payment_id, "4.00", "EUR", re.compile(r"\d{4}-.* UTC")]
    )
    expect(page.get_by_test_id("paid")).to_have_text("Paid 4.00 of 9.50: 5.50 outstanding.")
    shot(page, "order")


def test_cancel_from_the_page_and_a_refused_shipment_shows_the_api_s_reason(
    page: Page, console: str, admin: OmsClient
) -> None:
    customer = unique_customer()
    product = unique("CANCEL").upper()
    admin.set_stock(product, 100)
    unpaid = validated(admin, customer, product)
    to_cancel = validated(admin, customer, product)
    sign_in(page, console, ADMIN, f"/orders/{unpaid}")
    page.get_by_role("button", name="Ship order").click()
    expect(page.get_by_test_id("error")).to_contain_text("Could not ship the order")
    expect(page.get_by_test_id("error")).to_contain_text("failed precondition")
    expect(page.get_by_test_id("state")).to_have_text("validated")

    page.goto(f"{console}/orders/{to_cancel}")
    page.get_by_label("Reason").fill("customer changed their mind")
    page.get_by_role("button", name="Cancel order").click()
    expect(page.get_by_test_id("notice")).to_have_text("The order is cancelled.")
    expect(page.get_by_test_id("state")).to_have_text("cancelled")
    expect(page.get_by_test_id("history")).to_contain_text("customer changed their mind")
    assert state_name(admin.get_order(to_cancel).state) == "CANCELLED"


def test_a_customer_sees_only_its_own_orders(page: Page, console: str, admin: OmsClient) -> None:
    me, other = unique_customer(), unique_customer()
    product = unique("MINE").upper()
    admin.set_stock(product, 100)
    mine = validated(admin, me, product)
    theirs = validated(admin, other, product)
    sign_in(page, console, token(scope="oms:customer", customer_id=me))
    expect(page.get_by_test_id("viewer")).to_have_text(f"customer {me}")
    rows = page.get_by_test_id("orders").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.nth(0)).to_have_attribute("data-order", mine)
    # Its own order: it may cancel, not ship (shipping is the shop's).
    page.get_by_role("link", name=mine).click()
    expect(page.get_by_role("button", name="Cancel order")).to_be_visible()
    expect(page.get_by_role("button", name="Ship order")).to_have_count(0)
    # Another's order does not exist for it; another's list is refused.
    response = page.goto(f"{console}/orders/{theirs}")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("error")).to_contain_text("not found")
    response = page.goto(f"{console}/orders?customer={other}")
    assert response is not None and response.status == 403
    expect(page.get_by_test_id("orders")).to_have_count(0)
    expect(page.get_by_role("link", name="Dead letters")).to_have_count(0)
    # On a phone: the same page, narrower.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{console}/orders")
    expect(page.get_by_test_id("orders").locator("tbody tr")).to_have_count(1)
    shot(page, "orders-phone")


def test_the_live_view_updates_in_place_while_orders_are_placed(page: Page, console: str, admin: OmsClient) -> None:
    product = unique("LIVE").upper()
    admin.set_stock(product, 1000)
    sign_in(page, console, ADMIN, "/live")
    expect(page.get_by_test_id("live-status")).to_contain_text("Live")
    placed = [
        admin.place_order(customer_id=unique_customer(), product=product, quantity=1, price=2).order.order_id
        for _ in range(5)
    ]
    live = page.get_by_test_id("live-orders")
    for order_id in placed:
        expect(live.locator(f'tr[data-order="{order_id}"]')).to_be_visible()
    # Updated in place (same page, no reload): the rows reach their decision, the counters move.
    expect(live.locator(f'tr[data-order="{placed[-1]}"]')).to_contain_text("validated")
    expect(page.get_by_test_id("placed-total")).not_to_have_text("–")
    expect(page.get_by_test_id("stages").locator("tr[data-stage]").first).to_be_visible()
    expect(page.get_by_test_id("stages")).to_contain_text("pipeline")  # the checks run in it (OMS_LAYOUT)
    shot(page, "live")


def test_an_admin_sets_stock_and_sees_reserved_units(page: Page, console: str, admin: OmsClient) -> None:
    product = unique("STOCK").upper()
    sign_in(page, console, ADMIN, "/stock")
    page.get_by_label("Product", exact=True).last.fill(product)
    page.get_by_label("Units in stock").fill("40")
    page.get_by_role("button", name="Set").click()
    expect(page.get_by_test_id("notice")).to_have_text("Stock set.")
    row = page.locator(f'tr[data-product="{product}"]')
    expect(row.locator("td").nth(1)).to_have_text("40")
    validated(admin, unique_customer(), product)
    page.reload()
    expect(row.locator("td").nth(2)).to_have_text("1")
    shot(page, "stock")


def test_an_admin_finds_a_dead_letter_and_its_reason_and_a_customer_is_refused(
    page: Page, console: str, platform: Platform, admin: OmsClient
) -> None:
    key = unique("poison")
    producer = Producer({"bootstrap.servers": platform.bootstrap})
    producer.produce(platform.settings.topic("orders"), b"\xff\x00not an order event", key.encode())
    assert producer.flush(10) == 0
    # Every processor that reads `orders` gives up on it, each in its own time.
    letters = eventually(
        lambda: [e for e in admin.list_dead_letters() if e.dead_letter.key == key.encode()],
        what="the poison record dead-lettered",
    )
    processor = letters[0].dead_letter.processor

    sign_in(page, console, ADMIN, "/dead-letters")
    rows = page.get_by_test_id("dead-letter-list").locator("tbody tr", has_text=key)
    expect(rows.first).to_be_visible()
    expect(rows.first.locator("td").nth(4)).not_to_be_empty()  # the reason
    shot(page, "dead-letters")
    page.get_by_label("Processor").fill(processor)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"processor="))
    processors = page.get_by_test_id("dead-letter-list").locator("tbody tr td:nth-child(2)")
    expect(processors.first).to_have_text(processor)
    assert set(processors.all_inner_texts()) == {processor}

    page.context.clear_cookies()
    sign_in(page, console, token(scope="oms:customer", customer_id=unique_customer()), "/dead-letters")
    expect(page.get_by_test_id("error")).to_contain_text("oms:admin")
    expect(page.get_by_test_id("dead-letter-list")).to_have_count(0)
