"""The console before a front door with TLS, client certificates and tokens:
it calls over TLS with the platform's certificate (as the launcher does),
and a signed-in admin's pages come from the API."""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator

import grpc
import jwt
import pytest

from oms_client import OmsClient
from tests.support.certs import Authority
from tests.support.console import running_console
from tests.support.orders import unique, unique_customer
from tests.support.platform import Platform

pytestmark = [pytest.mark.kafka]

SECRET = "console-tls-secret-of-at-least-32-bytes"


@pytest.fixture(scope="module")
def secure(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, OmsClient, str]]:
    directory = tmp_path_factory.mktemp("console-tls")
    ca = Authority(directory / "ca")
    server = ca.issue("gateway", "oms gateway", server=True)
    client = ca.issue("client", "oms client")
    env = {
        "OMS_TLS_CERT": str(server.cert),
        "OMS_TLS_KEY": str(server.key),
        "OMS_TLS_CLIENT_CA": str(ca.cert),
        "OMS_AUTH_JWT_SECRET": SECRET,
    }
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert.read_bytes(),
        private_key=client.key.read_bytes(),
        certificate_chain=client.cert.read_bytes(),
    )
    platform = Platform(bootstrap, directory / "data", services=["gateway-0"], env=env, credentials=credentials)
    platform.start(timeout_s=120)
    admin = jwt.encode({"sub": "t", "scope": "oms:admin", "exp": int(time.time() + 600)}, SECRET, algorithm="HS256")
    sdk = OmsClient(f"localhost:{platform.port}", ca=ca.cert, cert=client.cert, key=client.key, token=admin, timeout=30)
    yield platform, sdk, admin
    sdk.close()
    platform.stop()


def test_the_console_calls_a_tls_front_door_with_the_viewer_s_token(secure: tuple[Platform, OmsClient, str]) -> None:
    platform, sdk, admin = secure
    customer = unique_customer()
    placed = sdk.place_order(customer_id=customer, product=unique("TLS").upper(), quantity=1, price=1).order
    with running_console(platform) as console:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        login = browser.open(f"{console}/login", timeout=10).read().decode()
        csrf = re.search(r'name="csrf" value="([^"]+)"', login)
        assert csrf is not None
        form = urllib.parse.urlencode({"csrf": csrf.group(1), "token": admin, "next": "/orders"}).encode()
        with browser.open(f"{console}/login", data=form, timeout=30) as reply:
            assert reply.url.endswith("/orders")
        # Every order (a customer's list would need the routing processor, not running here).
        with browser.open(f"{console}/orders", timeout=30) as reply:
            page = reply.read().decode()
        assert placed.order_id in page
