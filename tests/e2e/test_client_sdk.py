"""The Python SDK (client/, `oms_client`) against the real platform: every
call, sync and asyncio, its typed errors, and retries through a gateway
restart. Also the issue's definition of done: a fresh venv installs the
SDK alone (`pip install ./client`) and places and watches an order (and
runs the SDK's fake server, oms_client.testing)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from oms_client import (
    AlreadyExists,
    AsyncOmsClient,
    CheckResult,
    CheckType,
    CustomerLevel,
    InvalidArgument,
    NotFound,
    OmsClient,
    OrderState,
    RetryPolicy,
)
from tests.support.orders import unique, unique_customer
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
CREATED, VALIDATED, FAILED = (
    OrderState.ORDER_STATE_CREATED,
    OrderState.ORDER_STATE_VALIDATED,
    OrderState.ORDER_STATE_FAILED,
)


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("sdk")).start()
    yield running
    running.stop()


@pytest.fixture
def oms(platform: Platform) -> Iterator[OmsClient]:
    with OmsClient(f"localhost:{platform.port}", timeout=30) as client:
        yield client


def test_place_watch_and_read_an_order(oms: OmsClient) -> None:
    product = unique("JUMPERS")
    stock = oms.set_stock(product, 10)
    assert (stock.product, stock.quantity, stock.reserved) == (product, 10, 0)

    placed = oms.place_order(customer_id=unique_customer(), product=product, quantity=2, price=12.5)

    assert placed.created and placed.order.state == CREATED
    assert placed.order.order_id.startswith("order-"), "the SDK generates the idempotency key"
    states = [o.state for o in oms.watch_order(placed.order.order_id, after=placed.position)]
    assert states[0] == CREATED and states[-1] == VALIDATED
    final = oms.get_order(placed.order.order_id)
    assert final.state == VALIDATED
    assert [c.result for c in final.checks] == [CheckResult.CHECK_RESULT_PASS] * 3
    assert oms.wait_for_terminal(placed.order.order_id) == final
    assert oms.get_stock(product).reserved == 2


def test_placing_again_is_idempotent_and_other_content_already_exists(oms: OmsClient) -> None:
    product = unique("HATS")
    oms.set_stock(product, 5)
    order_id, customer = unique("order"), unique_customer()

    first = oms.place_order(order_id=order_id, customer_id=customer, product=product, quantity=1, price=3.0)
    again = oms.place_order(order_id=order_id, customer_id=customer, product=product, quantity=1, price=3.0)

    assert first.created and not again.created and again.order.order_id == order_id
    with pytest.raises(AlreadyExists) as raised:
        oms.place_order(order_id=order_id, customer_id=customer, product=product, quantity=9, price=3.0)
    assert raised.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert raised.value.reason == "ORDER_ID_REUSED" and raised.value.metadata == {"order_id": order_id}


def test_errors_are_typed_and_carry_the_status_details(oms: OmsClient) -> None:
    with pytest.raises(InvalidArgument) as invalid:
        oms.place_order(order_id="bad id!", customer_id=0, product="", quantity=1, price=float("nan"))
    assert {v.field for v in invalid.value.field_violations} == {"order_id", "customer_id", "product", "price"}
    assert "bad fields:" in str(invalid.value)

    missing_id = unique("order")
    with pytest.raises(NotFound) as missing:
        oms.get_order(missing_id)
    assert (missing.value.resource_type, missing.value.resource_name) == ("order", missing_id)
    with pytest.raises(NotFound):
        list(oms.watch_order(missing_id))
    with pytest.raises(NotFound) as no_stock:
        oms.get_stock(unique("NEVER-STOCKED"))
    assert no_stock.value.resource_type == "product"
    with pytest.raises(InvalidArgument) as negative:
        oms.set_stock(unique("JUMPERS"), -1)
    assert [v.field for v in negative.value.field_violations] == ["quantity"]


def test_a_failing_order_ends_failed_with_the_check_that_failed(oms: OmsClient) -> None:
    product = unique("STOCKINGS")
    oms.set_stock(product, 1000)
    placed = oms.place_order(customer_id=unique_customer(), product=product, quantity=10, price=300.0)
    final = oms.wait_for_terminal(placed.order.order_id, timeout=60)
    assert final.state == FAILED
    fraud = [c for c in final.checks if c.check_type == CheckType.CHECK_TYPE_FRAUD]
    assert fraud and fraud[0].result == CheckResult.CHECK_RESULT_FAIL and "limit" in fraud[0].reason


def test_the_async_client(platform: Platform) -> None:
    async def scenario() -> None:
        async with AsyncOmsClient(f"localhost:{platform.port}") as oms:
            product = unique("UNDERPANTS")
            await oms.set_stock(product, 3)
            placed = await asyncio.gather(
                *(
                    oms.place_order(customer_id=unique_customer(), product=product, quantity=1, price=2.0)
                    for _ in range(4)
                )
            )
            finals = await asyncio.gather(*(oms.wait_for_terminal(p.order.order_id) for p in placed))
            assert sorted(f.state for f in finals) == [VALIDATED] * 3 + [FAILED]
            states = [o.state async for o in oms.watch_order(placed[0].order.order_id)]
            assert states[-1] in (VALIDATED, FAILED)
            assert (await oms.get_order(placed[0].order.order_id)).state == states[-1]
            assert (await oms.get_stock(product)).reserved == 3
            with pytest.raises(NotFound):
                await oms.get_order(unique("order"))

    asyncio.run(asyncio.wait_for(scenario(), 120))


def test_customers(oms: OmsClient, platform: Platform) -> None:
    customer_id = unique_customer()
    upserted = oms.upsert_customer(
        customer_id=customer_id, first_name="Ada", last_name="Lovelace", email="ada@example.com", level="gold"
    )
    assert upserted.level == CustomerLevel.CUSTOMER_LEVEL_GOLD
    got = oms.get_customer(customer_id)
    assert (got.first_name, got.email, got.level) == ("Ada", "ada@example.com", CustomerLevel.CUSTOMER_LEVEL_GOLD)
    with pytest.raises(NotFound):
        oms.get_customer(unique_customer())


def test_payments(oms: OmsClient, platform: Platform) -> None:
    product = unique("JUMPERS")
    oms.set_stock(product, 5)
    placed = oms.place_order(customer_id=unique_customer(), product=product, quantity=1, price=25.0)
    first = oms.record_payment(order_id=placed.order.order_id, amount=25.0, currency="EUR")
    assert first.created and first.payment.payment_id.startswith("payment-")
    again = oms.record_payment(
        order_id=placed.order.order_id, amount=25.0, currency="EUR", payment_id=first.payment.payment_id
    )
    assert not again.created and again.payment.payment_id == first.payment.payment_id


def test_place_order_retries_through_a_gateway_restart(platform: Platform) -> None:
    """The gateway is down when the call starts: the SDK retries
    UNAVAILABLE until it is back, with one order id, so one order."""
    product = unique("JUMPERS")
    with OmsClient(
        f"localhost:{platform.port}", timeout=90, retry=RetryPolicy(max_attempts=1000, max_backoff=0.5)
    ) as oms:
        oms.set_stock(product, 5)
        gateway = next(name for name in platform.supervisor.pids() if name.startswith("gateway"))
        platform.kill(gateway)
        time.sleep(0.5)
        stop = threading.Event()

        def supervise() -> None:
            while not stop.is_set():
                platform.supervise()
                time.sleep(0.2)

        supervisor = threading.Thread(target=supervise, daemon=True)
        supervisor.start()
        try:
            placed = oms.place_order(customer_id=unique_customer(), product=product, quantity=1, price=5.0)
        finally:
            stop.set()
            supervisor.join()
        platform.wait_serving()
        assert oms.wait_for_terminal(placed.order.order_id).state == VALIDATED
        assert oms.get_stock(product).reserved == 1


FRESH_VENV_SCRIPT = """
import json, sys
from oms_client import OmsClient, OrderState
try:
    import oms  # the main project's generated package must not be needed, nor come along
    sys.exit("the SDK venv can import the main project's oms package")
except ImportError:
    pass
target, product = sys.argv[1], sys.argv[2]
with OmsClient(target) as client:
    client.set_stock(product, 5)
    placed = client.place_order(customer_id=42, product=product, quantity=2, price=12.5)
    states = [OrderState.Name(o.state) for o in client.watch_order(placed.order.order_id)]
# The fake server for users' own tests needs nothing beyond the SDK either.
from oms_client.testing import FakeOms
with FakeOms() as fake, OmsClient(fake.target) as local:
    local.set_stock(product, 5)
    placed = local.place_order(customer_id=42, product=product, quantity=2, price=12.5)
    faked = OrderState.Name(local.wait_for_terminal(placed.order.order_id).state)
print(json.dumps({"states": states, "fake": faked}))
"""


def test_a_fresh_venv_installs_the_sdk_alone_and_places_and_watches_an_order(
    platform: Platform, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # The SDK alone, with the same pins as the project's lock file for its
    # dependencies (as plain constraints: hashes cannot cover a local directory).
    pins = [line.split()[0] for line in (ROOT / "requirements.lock").read_text().splitlines() if "==" in line]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", str(constraints), str(ROOT / "client")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert install.returncode == 0, install.stderr
    target, product = f"localhost:{platform.port}", unique("JUMPERS")

    run = subprocess.run(
        [str(python), "-c", FRESH_VENV_SCRIPT, target, product],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )

    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    states = answer["states"]
    assert states[0] == "ORDER_STATE_CREATED" and states[-1] == "ORDER_STATE_VALIDATED"
    assert answer["fake"] == "ORDER_STATE_VALIDATED"
    # The CLI comes with it.
    cli = subprocess.run(
        [str(venv / "bin" / "oms"), "--json", "--target", target, "stock", "get", product],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout) == {"product": product, "quantity": 5, "reserved": 2}


README = ROOT / "README.md"


def readme_sdk_examples() -> list[str]:
    """The SDK examples against a server (localhost:50051) of the README and
    the SDK's own (the fake server's example runs in client/tests)."""
    import re

    blocks = []
    for readme in (README, ROOT / "client" / "README.md"):
        blocks += re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    return [block for block in blocks if "oms_client" in block and "localhost:50051" in block]


def test_the_readme_sdk_examples_work(platform: Platform) -> None:
    examples = readme_sdk_examples()
    assert {"AsyncOmsClient" in example for example in examples} == {True, False}, "sync and asyncio"
    for example in examples:
        code = example.replace("localhost:50051", f"localhost:{platform.port}")
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert run.returncode == 0, f"{example}\n{run.stderr}"
        output = run.stdout.splitlines()
        if "AsyncOmsClient" in example:
            assert output == ["VALIDATED"]
        else:
            assert output[0] == "CREATED []" and output[-1] == "VALIDATED ['PASS', 'PASS', 'PASS']"


def test_an_order_s_life_through_the_sdk(platform: Platform, oms: OmsClient) -> None:
    from oms_client import FailedPrecondition, event_kind_name

    product, customer = unique("LIFE"), unique_customer()
    oms.set_stock(product, 10)
    watch = oms.watch_orders(customer, timeout=60)
    assert not next(watch).HasField("order")  # watching from here on
    shipped = oms.place_order(customer_id=customer, product=product, quantity=2, price=5.0).order.order_id
    cancelled = oms.place_order(customer_id=customer, product=product, quantity=1, price=5.0).order.order_id
    oms.wait_for_terminal(shipped)

    with pytest.raises(FailedPrecondition) as refused:
        oms.ship_order(shipped)
    assert refused.value.missing == ("PAYMENT",)
    oms.record_payment(order_id=shipped, amount=10.0)
    assert oms.ship_order(shipped).order.state == OrderState.ORDER_STATE_SHIPPED
    assert oms.cancel_order(cancelled, reason="no").order.state == OrderState.ORDER_STATE_CANCELLED
    assert [event_kind_name(e.kind) for e in oms.list_order_events(shipped)] == ["PLACED", "VALIDATED", "SHIPPED"]

    assert [o.order_id for o in oms.list_orders(customer_id=customer, page_size=1)] == [cancelled, shipped]
    assert [len(p) for p in oms.list_order_pages(customer_id=customer, page_size=1)] == [1, 1]
    assert [o.order_id for o in oms.list_orders(customer_id=customer, state="shipped")] == [shipped]
    changes = []
    for change in watch:
        changes.append((change.order.order_id, event_kind_name(change.kind)))
        if (shipped, "SHIPPED") in changes and (cancelled, "CANCELLED") in changes:
            break
    watch.close()
    assert changes[0] == (shipped, "PLACED") and (cancelled, "PLACED") in changes

    async def also_asyncio() -> None:
        async with AsyncOmsClient(f"localhost:{platform.port}", timeout=30) as client:
            assert (await client.cancel_order(cancelled)).changed is False
            assert (await client.ship_order(shipped)).changed is False
            assert len(await client.list_order_events(cancelled)) >= 2
            assert [o.order_id async for o in client.list_orders(customer_id=customer)] == [cancelled, shipped]
            stream = client.watch_orders(customer, resume_token=None, timeout=30)
            assert not (await asyncio.wait_for(stream.__anext__(), 20)).HasField("order")
            third = await client.place_order(customer_id=customer, product=product, quantity=1, price=1.0)
            first = await asyncio.wait_for(stream.__anext__(), 20)
            await stream.aclose()
            assert first.order.order_id == third.order.order_id

    asyncio.run(also_asyncio())
