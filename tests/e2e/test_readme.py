"""The README's grpcurl examples, run as written against the running platform."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.mailsink import MailSink
from tests.support.orders import eventually
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_grpcurl_commands(tls: bool = False) -> list[str]:
    """The README's grpcurl lines: the plaintext ones, or (tls) those of the
    Security section, which tests/e2e/test_security.py runs."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if line.startswith("grpcurl ")]
    return [line for line in lines if ("-cacert " in line) == tls]


def json_objects(text: str) -> list[dict]:
    decoder, objects, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        value, position = decoder.raw_decode(text, position)
        objects.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return objects


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory, mail: MailSink) -> Iterator[Platform]:
    env = {"OMS_SMTP_HOST": mail.host, "OMS_SMTP_PORT": str(mail.port)}
    running = Platform(bootstrap, tmp_path_factory.mktemp("readme"), env=env).start()
    yield running
    running.stop()


def test_the_readme_has_grpcurl_examples() -> None:
    assert len(readme_grpcurl_commands()) >= 6


def test_the_readme_grpcurl_examples_work(platform: Platform, mail: MailSink) -> None:
    assert shutil.which("grpcurl"), "grpcurl is not on the PATH: `make test` installs it into .venv/bin"
    outputs: dict[str, list[str]] = {}
    for command in readme_grpcurl_commands():
        local = command.replace("localhost:50051", f"localhost:{platform.port}")
        run = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        method = command.split()[-1]
        order = re.search(r'"order_id": "([^"]+)"', command)
        outputs.setdefault(f"{method} {order.group(1) if order else ''}".strip(), []).append(run.stdout)

    assert "oms.orders.v1.OrderCommandService" in outputs["list"][0]
    placed = json_objects(outputs["oms.orders.v1.OrderCommandService/PlaceOrder order-1001"][0])[0]
    assert placed["order"]["state"] == "ORDER_STATE_CREATED" and placed["created"] is True
    watched = json_objects(outputs["oms.orders.v1.OrderQueryService/WatchOrder order-1001"][0])
    assert watched[-1]["order"]["state"] == "ORDER_STATE_VALIDATED"
    assert [c["result"] for c in watched[-1]["order"]["checks"]] == ["CHECK_RESULT_PASS"] * 3
    got = json_objects(outputs["oms.orders.v1.OrderQueryService/GetOrder order-1001"][0])[0]
    assert got == watched[-1]
    stock = json_objects(outputs["oms.inventory.v1.InventoryService/GetStock"][0])[0]
    assert stock["stock"] == {"product": "JUMPERS", "quantity": 10, "reserved": 2}
    failed = json_objects(outputs["oms.orders.v1.OrderQueryService/WatchOrder order-1002"][0])[-1]["order"]
    assert failed["state"] == "ORDER_STATE_FAILED"
    assert any(
        c["check_type"] == "CHECK_TYPE_ORDER_DETAILS" and c["result"] == "CHECK_RESULT_FAIL" for c in failed["checks"]
    )

    customer = json_objects(outputs["oms.customers.v1.CustomerService/UpsertCustomer"][0])[0]["customer"]
    assert customer["level"] == "CUSTOMER_LEVEL_GOLD"
    assert json_objects(outputs["oms.customers.v1.CustomerService/GetCustomer"][0])[0]["customer"] == customer
    first, again = (json_objects(o)[0] for o in outputs["oms.payments.v1.PaymentService/RecordPayment order-1003"])
    assert first["created"] is True and "created" not in again and again["payment"] == first["payment"]
    listed = json_objects(outputs["oms.payments.v1.PaymentService/ListPayments order-1003"][0])[0]
    assert listed == {"payments": [first["payment"]], "paid": 12.5}
    shipped = json_objects(outputs["oms.orders.v1.OrderCommandService/ShipOrder order-1003"][0])[0]
    assert shipped["order"]["state"] == "ORDER_STATE_SHIPPED" and shipped["changed"] is True
    cancelled = json_objects(outputs["oms.orders.v1.OrderCommandService/CancelOrder order-1001"][0])[0]
    assert cancelled["order"]["state"] == "ORDER_STATE_CANCELLED" and cancelled["changed"] is True
    history = json_objects(outputs["oms.orders.v1.OrderQueryService/ListOrderEvents order-1001"][0])[0]["events"]
    assert [(e["version"], e["kind"]) for e in history] == [
        ("1", "ORDER_EVENT_KIND_PLACED"),
        ("2", "ORDER_EVENT_KIND_VALIDATED"),
        ("3", "ORDER_EVENT_KIND_CANCELLED"),
    ]
    assert history[2]["reason"] == "found it cheaper"
    by_customer, by_state = (json_objects(o)[0] for o in outputs["oms.orders.v1.OrderQueryService/ListOrders"])
    assert [o["order_id"] for o in by_customer["orders"]] == ["order-1002", "order-1001"]
    assert [o["order_id"] for o in by_state["orders"]] == ["order-1003"]
    # Customer 42's orders may not have waited out their grace yet: routing's, if any.
    dead = json_objects(outputs["oms.deadletter.v1.DeadLetterService/ListDeadLetters"][0])[0]
    assert {e["dead_letter"]["processor"] for e in dead.get("dead_letters", [])} <= {"order-routing"}
    emails = eventually(
        lambda: mail.with_message_id("<order-confirmation%2Forder-1003@oms.localhost>"), timeout_s=30, what="the email"
    )
    assert [m["To"] for m in emails] == ["ada@example.com"]
    body = emails[0].get_body(preferencelist=("plain",)).get_content()
    assert "Dear Ada Lovelace" in body and "12.50 EUR for order order-1003" in body
