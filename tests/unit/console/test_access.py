"""The console's sessions: whom a token claims to be (for the UI only; the
API decides), CSRF on every form, no token with auth on is the login page,
and without auth the console serves a loopback address only."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import jwt
import pytest
import uvicorn

from console.__main__ import is_loopback, main
from console.access import csrf_ok, viewer_of
from console.app import ConsoleSettings, create_app
from tests.support.ports import free_port
from topology.config import EX_CONFIG


def test_a_token_s_claims_say_what_the_ui_shows_and_auth_off_is_the_local_admin() -> None:
    admin = jwt.encode({"sub": "a", "scope": "oms:admin"}, "k" * 32, algorithm="HS256")
    customer = jwt.encode({"sub": "c", "scope": "oms:customer", "customer_id": 42}, "k" * 32, algorithm="HS256")
    assert viewer_of(None, auth=False) is not None and viewer_of(None, auth=False).admin  # type: ignore[union-attr]
    assert viewer_of(None, auth=True) is None
    assert viewer_of(admin, auth=True).admin  # type: ignore[union-attr]
    seen = viewer_of(customer, auth=True)
    assert seen is not None and not seen.admin and seen.customer_id == 42
    # Garbage is still sent (the API refuses it), with no rights in the UI.
    garbage = viewer_of("not-a-jwt", auth=True)
    assert garbage is not None and garbage.token == "not-a-jwt" and not garbage.admin


def test_csrf_needs_the_session_s_token_in_the_form() -> None:
    assert csrf_ok("abc", "abc")
    assert not csrf_ok("abc", "abd")
    assert not csrf_ok(None, "abc")
    assert not csrf_ok("abc", None)
    assert not csrf_ok("", "")


def test_without_auth_only_a_loopback_address_is_served(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    for name in ("OMS_AUTH_JWT_SECRET", "OMS_AUTH_JWT_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OMS_CONSOLE_HOST", "0.0.0.0")
    assert main() == EX_CONFIG


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


@pytest.fixture()
def console() -> Iterator[str]:
    """The console with auth on, in-process, before a front door that is not there."""
    port = free_port()
    app = create_app(ConsoleSettings(target=f"127.0.0.1:{free_port()}", auth=True))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def call(url: str, data: dict[str, str] | None = None, cookie: str = "") -> tuple[int, dict[str, str], str]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    request = urllib.request.Request(url, data=body, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_no_token_is_sent_to_the_login_page_and_a_form_without_its_csrf_token_is_refused(console: str) -> None:
    status, headers, _ = call(f"{console}/orders")
    assert status == 303 and headers["location"] == "/login?next=%2Forders"
    status, headers, page = call(f"{console}/login")
    assert status == 200 and 'name="token"' in page
    cookie = headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    csrf = cookie.split(";")[0]
    # A login post without the form's token, or with another, is refused.
    assert call(f"{console}/login", {"token": "x"}, cookie=csrf)[0] == 403
    assert call(f"{console}/login", {"token": "x", "csrf": "forged"}, cookie=csrf)[0] == 403
    token_cookie = "oms_token=whatever"
    assert call(f"{console}/stock", {"product": "A", "quantity": "1"}, cookie=f"{csrf}; {token_cookie}")[0] == 403
    assert call(f"{console}/orders/o-1/cancel", {"reason": "r"}, cookie=f"{csrf}; {token_cookie}")[0] == 403
