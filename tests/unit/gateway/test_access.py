"""Who a token says the caller is (Principal.of_claims, TokenVerifier with
PyJWT), and the handlers' rules for a customer principal, over in-memory ports."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.api.auth import TokenVerifier
from gateway.app.access import Principal
from gateway.app.commands import GetCustomer, GetOrder, PlaceOrder, SetStock
from gateway.app.errors import NotFound, PermissionDenied, Unauthenticated
from gateway.app.handlers import build_app
from tests.support.fakes import in_memory
from topology.config import Config
from topology.topics import Topics

SECRET = "unit-secret-of-at-least-32-bytes-long"


def claims(**extra: object) -> dict[str, object]:
    return {"sub": "s", "exp": int(time.time()) + 60, **extra}


@pytest.mark.parametrize(
    "bad",
    [
        {"scope": "oms:customer"},
        {"scope": "oms:customer", "customer_id": "42"},
        {"scope": "oms:customer", "customer_id": True},
        {"scope": "oms:customer", "customer_id": 0},
        {"scope": "oms:reader"},
        {"scope": ["oms:admin"]},
        {"sub": "", "scope": "oms:admin"},
    ],
)
def test_claims_that_do_not_say_who_calls_are_unauthenticated(bad: dict[str, object]) -> None:
    with pytest.raises(Unauthenticated):
        Principal.of_claims(claims(**bad))


def test_scopes_make_admins_and_customers() -> None:
    assert Principal.of_claims(claims(scope="openid oms:admin")).admin
    customer = Principal.of_claims(claims(scope="oms:customer", customer_id=42))
    assert (customer.admin, customer.customer_id) == (False, 42)


def test_the_verifier_checks_signature_expiry_issuer_and_audience() -> None:
    verifier = TokenVerifier(
        Config.load({}, auth_jwt_secret=SECRET, auth_jwt_issuer="https://id.example", auth_jwt_audience="oms")
    )
    good = claims(scope="oms:admin", iss="https://id.example", aud="oms")
    assert verifier.principal("Bearer " + jwt.encode(good, SECRET, algorithm="HS256")).admin
    for bad in [
        jwt.encode(good, "another-secret-of-at-least-32-bytes", algorithm="HS256"),
        jwt.encode({**good, "exp": int(time.time()) - 60}, SECRET, algorithm="HS256"),
        jwt.encode({**good, "iss": "https://evil.example"}, SECRET, algorithm="HS256"),
        jwt.encode({**good, "aud": "other"}, SECRET, algorithm="HS256"),
        jwt.encode({k: v for k, v in good.items() if k != "exp"}, SECRET, algorithm="HS256"),
        jwt.encode(good, None, algorithm="none"),
        "x.y.z",
    ]:
        with pytest.raises(Unauthenticated):
            verifier.principal("Bearer " + bad)
    with pytest.raises(Unauthenticated):
        verifier.principal(None)


def test_an_es256_public_key_verifies_tokens_of_its_private_key(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    public = tmp_path / "public.pem"
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    verifier = TokenVerifier(Config.load({}, auth_jwt_public_key=public))
    token = jwt.encode(claims(scope="oms:customer", customer_id=3), key, algorithm="ES256")
    assert verifier.principal(f"Bearer {token}").customer_id == 3
    with pytest.raises(Unauthenticated):  # HS256 is not accepted when a public key is configured
        verifier.principal("Bearer " + jwt.encode(claims(scope="oms:admin"), "x" * 32, algorithm="HS256"))


def test_a_customer_reaches_only_its_own_orders_and_record() -> None:
    async def scenario() -> None:
        log, reads = in_memory()
        app = build_app(reads, log, Topics(""))
        mine, other = Principal("a", customer_id=1), Principal("b", customer_id=2)
        await app.orders.place(PlaceOrder("o-1", 1, "JUMPERS", 1, 2.0), mine)
        assert (await app.orders.get(GetOrder("o-1"), mine)).customer_id == 1
        with pytest.raises(NotFound) as theirs:
            await app.orders.get(GetOrder("o-1"), other)
        with pytest.raises(NotFound) as absent:
            await app.orders.get(GetOrder("o-2"), other)
        assert str(theirs.value).replace("o-1", "?") == str(absent.value).replace("o-2", "?")
        with pytest.raises(PermissionDenied):
            await app.orders.place(PlaceOrder("o-3", 1, "JUMPERS", 1, 2.0), other)
        with pytest.raises(PermissionDenied):
            await app.customers.get(GetCustomer(1), other)
        with pytest.raises(PermissionDenied):
            await app.inventory.set(SetStock("JUMPERS", 1), mine)

    asyncio.run(scenario())
