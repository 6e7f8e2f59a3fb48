"""Every `oms` command, run as the installed console script against the
real platform."""

from __future__ import annotations

import base64
import json
import os
import random
import selectors
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from oms_client import _demo
from oms_client.types import state_name
from tests.support.orders import eventually, unique, unique_customer
from tests.support.platform import Platform

pytestmark = pytest.mark.kafka

OMS = str(Path(sys.executable).parent / "oms")


@pytest.fixture(scope="module")
def platform(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = Platform(bootstrap, tmp_path_factory.mktemp("cli")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def target(platform: Platform) -> str:
    return f"localhost:{platform.port}"


def oms(*argv: str, target: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ}
    env.pop("OMS_TARGET", None)
    if target is not None:
        env["OMS_TARGET"] = target
    return subprocess.run([OMS, *argv], capture_output=True, text=True, timeout=timeout, env=env)


def ok(*argv: str, target: str) -> str:
    run = oms(*argv, "--target", target)
    assert run.returncode == 0, f"oms {' '.join(argv)}: {run.stderr}"
    assert run.stderr == ""
    return run.stdout


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_help_is_there_for_the_command_and_the_module() -> None:
    for argv in ([OMS, "--help"], [sys.executable, "-m", "oms_client", "--help"], [OMS, "stock", "set", "--help"]):
        run = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0 and run.stdout.startswith("usage: oms")


def test_stock_set_and_get(target: str) -> None:
    product = unique("JUMPERS")
    assert ok("stock", "set", product, "10", target=target) == f"{product}  quantity 10  reserved 0  available 10\n"
    assert json.loads(ok("stock", "get", product, "--json", target=target)) == {
        "product": product,
        "quantity": 10,
        "reserved": 0,
    }


def test_place_get_and_watch(target: str) -> None:
    product = unique("JUMPERS")
    ok("stock", "set", product, "10", target=target)

    placed = json.loads(
        ok(
            "--json",
            "place",
            "--customer",
            "42",
            "--product",
            product,
            "--quantity",
            "2",
            "--price",
            "12.5",
            target=target,
        )
    )

    order_id = placed["order"]["order_id"]
    assert placed["created"] is True and placed["order"]["state"] == "ORDER_STATE_CREATED"
    assert order_id.startswith("order-")
    watched = json_lines(ok("watch", order_id, "--json", target=target))
    assert watched[0]["order_id"] == order_id and watched[-1]["state"] == "ORDER_STATE_VALIDATED"
    got = json.loads(ok("get", order_id, "--json", target=target))
    assert got == watched[-1]
    assert [c["result"] for c in got["checks"]] == ["CHECK_RESULT_PASS"] * 3
    text = ok("get", order_id, target=target)
    assert text.startswith(f"{order_id}  VALIDATED  customer 42  2 x {product} @ 12.50")
    assert json.loads(ok("stock", "get", product, "--json", target=target))["reserved"] == 2


def test_place_with_watch_prints_each_state(target: str) -> None:
    product = unique("HATS")
    ok("stock", "set", product, "1", target=target)
    order_id = unique("order")

    lines = ok(
        "place",
        "-c",
        str(unique_customer()),
        "-p",
        product,
        "-q",
        "3",
        "--price",
        "4",
        "--order-id",
        order_id,
        "--watch",
        target=target,
    ).splitlines()

    assert lines[0].startswith(f"{order_id}  CREATED") and lines[0].endswith("(placed)")
    assert f"{order_id}  FAILED" in lines[-1] and "inventory FAIL" in lines[-1]


def test_target_comes_from_oms_target(target: str) -> None:
    product = unique("JUMPERS")
    run = oms("stock", "set", product, "3", target=target)
    assert run.returncode == 0, run.stderr
    run = oms("--json", "stock", "get", product, target=target)
    assert json.loads(run.stdout)["quantity"] == 3


def test_errors_print_one_line_and_exit_1(target: str) -> None:
    missing = unique("order")
    run = oms("get", missing, "--target", target)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"oms: NOT_FOUND: no order {missing} | resource: order '{missing}'\n"

    run = oms("place", "-c", "0", "-p", "", "-q", "1", "--price", "nan", "--order-id", "bad id!", "--target", target)
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert (
        run.stderr.startswith("oms: INVALID_ARGUMENT: ")
        and "bad fields: order_id, product, customer_id, price" in run.stderr
    )

    run = oms("--json", "stock", "set", unique("JUMPERS"), "-1", "--target", target)
    assert run.returncode == 1
    error = json.loads(run.stderr)["error"]
    assert error["code"] == "INVALID_ARGUMENT"
    assert error["details"] == [
        {
            "@type": "google.rpc.BadRequest",
            "field_violations": [{"field": "quantity", "description": "must be 0 or more"}],
        }
    ]

    product, order_id = unique("JUMPERS"), unique("order")
    ok("stock", "set", product, "5", target=target)
    ok("place", "-c", "7", "-p", product, "-q", "1", "--price", "1", "--order-id", order_id, target=target)
    run = oms("place", "-c", "7", "-p", product, "-q", "2", "--price", "1", "--order-id", order_id, "--target", target)
    assert run.returncode == 1
    assert run.stderr == (
        f"oms: ALREADY_EXISTS: order {order_id} was already placed with other content"
        f" | error info: ORDER_ID_REUSED (oms) order_id={order_id}\n"
    )

    run = oms("get", "x", "--target", "127.0.0.1:1", "--timeout", "1")
    assert run.returncode == 1 and run.stderr.startswith("oms: UNAVAILABLE: ")


def test_customer_upsert_and_get(target: str) -> None:
    customer_id = str(unique_customer())
    text = ok(
        "customer",
        "upsert",
        customer_id,
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
        "--email",
        "ada@example.com",
        "--address",
        "12 St James's Square",
        "--level",
        "gold",
        target=target,
    )
    assert text == f"customer {customer_id}  Ada Lovelace  GOLD  <ada@example.com>  12 St James's Square\n"
    got = json.loads(ok("customer", "get", customer_id, "--json", target=target))
    assert (got["first_name"], got["level"]) == ("Ada", "CUSTOMER_LEVEL_GOLD")
    run = oms("customer", "get", str(unique_customer()), "--target", target)
    assert run.returncode == 1 and run.stderr.startswith("oms: NOT_FOUND: ")


def test_pay(target: str) -> None:
    product = unique("JUMPERS")
    ok("stock", "set", product, "5", target=target)
    order_id = json.loads(ok("--json", "place", "-c", "42", "-p", product, "-q", "1", "--price", "25", target=target))[
        "order"
    ]["order_id"]

    paid = json.loads(ok("pay", order_id, "25.00", "--currency", "EUR", "--json", target=target))

    assert paid["created"] is True and paid["payment"]["order_id"] == order_id and paid["payment"]["amount"] == 25.0
    text = ok("pay", order_id, "25.00", "--payment-id", paid["payment"]["payment_id"], target=target)
    assert (
        text.startswith(f"payment {paid['payment']['payment_id']}  order {order_id}  25.00 EUR")
        and "(already recorded)" in text
    )


def test_demo_places_a_mix_that_exercises_every_check(target: str) -> None:
    count, seed = 40, 3
    kinds = [o.kind for o in _demo.plan(_demo.DemoConfig(target="", count=count, seed=seed), "x", random.Random(seed))]
    assert set(kinds) == {k for k, _ in _demo.MIX}, "choose a seed whose mix has every kind"

    run = oms(
        "demo", "--rate", "20", "--count", str(count), "--seed", str(seed), "--json", "--target", target, timeout=300
    )

    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    assert (summary["unexpected"], summary["errors"]) == (0, 0)
    assert summary["validated"] == kinds.count(_demo.GOOD)
    assert summary["rejected"] == kinds.count(_demo.REJECTED)
    assert summary["placed"] == count - kinds.count(_demo.REJECTED)
    failed = summary["failed_by_check"]
    assert set(failed) <= {"fraud", "inventory", "order-details"}
    assert failed["fraud"] == kinds.count(_demo.FRAUD)
    # A bad-details order of 0 units may fail the inventory check first.
    assert failed["inventory"] >= kinds.count(_demo.OVER_STOCK)
    assert failed["inventory"] + failed.get("order-details", 0) == kinds.count(_demo.OVER_STOCK) + kinds.count(
        _demo.BAD_DETAILS
    )
    orders = _demo.plan(_demo.DemoConfig(target="", count=count, seed=seed), "x", random.Random(seed))
    good = [o for o in orders if o.kind == _demo.GOOD]
    assert {o.fate for o in good} == {f for f, _ in _demo.FATES}, "choose a seed whose good orders meet every fate"
    assert summary["final_states"] == dict(
        Counter(state_name(o.should_end) for o in orders if o.kind != _demo.REJECTED)
    )
    assert summary["shipped"] == sum(o.fate == _demo.SHIP for o in good)
    assert summary["cancelled"] == sum(o.fate == _demo.CANCEL for o in good)
    assert summary["paid"] == sum(o.fate in (_demo.SHIP, _demo.PAID) for o in good)
    assert summary["customers"] == len(_demo.customers_of(orders))
    assert (
        0
        < summary["verdict_latency_ms"]["p50"]
        <= summary["verdict_latency_ms"]["p95"]
        <= summary["verdict_latency_ms"]["p99"]
    )


def test_demo_shows_live_progress(target: str) -> None:
    run = oms("demo", "--rate", "10", "--count", "25", "--target", target, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("oms demo ") and "25 orders at 10/s" in lines[0]
    progress = [line for line in lines if line.startswith("placed ")]
    assert len(progress) >= 2, "a progress line every second while it runs"
    assert lines[-3].startswith("done: placed ") and "latency p50 " in lines[-3] and " p99 " in lines[-3]
    assert " shipped " in lines[-3] and " cancelled " in lines[-3]
    assert lines[-2].startswith("final states: ")
    assert lines[-1].startswith("PlaceOrder latency p50 ")


def test_watch_prints_each_state_change_as_it_happens(platform: Platform, target: str) -> None:
    """With the fraud check down (its process killed), the order waits in CREATED: `oms watch`
    prints that at once, and VALIDATED when the check is back."""
    product = unique("JUMPERS")
    ok("stock", "set", product, "5", target=target)
    platform.kill(platform.process_of("fraud"))
    order_id = json.loads(ok("--json", "place", "-c", "42", "-p", product, "-q", "1", "--price", "3", target=target))[
        "order"
    ]["order_id"]
    watch = subprocess.Popen(
        [OMS, "watch", order_id, "--target", target], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert watch.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(watch.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=30), "oms watch printed nothing"
        first = watch.stdout.readline()
        assert f"{order_id}  CREATED" in first
        assert watch.poll() is None, "the watch must go on while the order is not decided"

        deadline = time.monotonic() + 60
        while watch.poll() is None and time.monotonic() < deadline:
            platform.supervise()  # restarts the fraud check
            time.sleep(0.2)
        rest, err = watch.communicate(timeout=30)
    finally:
        if watch.poll() is None:
            watch.kill()
        platform.wait_serving()
    assert watch.returncode == 0, err
    assert f"{order_id}  VALIDATED" in rest.splitlines()[-1]


def readme_oms_commands() -> list[str]:
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("oms ")]


def test_the_readme_oms_commands_work(target: str) -> None:
    commands = readme_oms_commands()
    assert {c.split()[1] for c in commands} >= {
        "place",
        "get",
        "watch",
        "stock",
        "customer",
        "pay",
        "demo",
        "ship",
        "orders",
        "cancel",
    }
    outputs = {}
    for command in commands:
        run = subprocess.run(
            ["bash", "-c", command],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "OMS_TARGET": target, "PATH": f"{Path(OMS).parent}:{os.environ['PATH']}"},
        )
        assert run.returncode == 0, f"{command}\n{run.stderr}"
        outputs[command] = run.stdout
    watched = [
        json.loads(line) for line in next(v for k, v in outputs.items() if k.startswith("oms watch")).splitlines()
    ]
    assert watched[-1]["state"] == "ORDER_STATE_VALIDATED"
    assert "reserved 2" in next(v for k, v in outputs.items() if k.startswith("oms stock get"))


def test_cancel_ship_history_and_orders(target: str) -> None:
    product = unique("JUMPERS")
    customer = str(unique_customer())
    ok("stock", "set", product, "5", target=target)
    shipped_id, cancelled_id = unique("ship"), unique("cancel")
    ok(
        "place",
        "-c",
        customer,
        "-p",
        product,
        "-q",
        "2",
        "--price",
        "3",
        "--order-id",
        shipped_id,
        "--watch",
        target=target,
    )
    ok("place", "-c", customer, "-p", product, "-q", "1", "--price", "3", "--order-id", cancelled_id, target=target)

    refused = oms("ship", shipped_id, "--target", target)
    assert refused.returncode == 1 and "FAILED_PRECONDITION" in refused.stderr and "PAYMENT" in refused.stderr
    ok("pay", shipped_id, "6", target=target)
    first, again = ok("ship", shipped_id, target=target), ok("ship", shipped_id, target=target)
    assert "SHIPPED" in first and "(shipped)" in first and "(already shipped)" in again
    assert "CANCELLED" in ok("cancel", cancelled_id, "--reason", "changed my mind", target=target)
    history = ok("history", cancelled_id, target=target).splitlines()
    assert history[0].split()[3] == "PLACED" and "reason: changed my mind" in history[-1]

    listed = json_lines(ok("orders", "--customer", customer, "--json", target=target))
    assert [o["order_id"] for o in listed] == [cancelled_id, shipped_id]
    shipped = json_lines(ok("orders", "--customer", customer, "--state", "shipped", "--json", target=target))
    assert [o["order_id"] for o in shipped] == [shipped_id]
    assert oms("orders", "--state", "sideways", "--target", target).returncode == 2


def test_dead_letters_lists_what_a_processor_gave_up_on(platform: Platform, target: str) -> None:
    from confluent_kafka import Producer

    key = unique("poison").encode()
    producer = Producer({"bootstrap.servers": platform.bootstrap})
    producer.produce(platform.settings.topic("orders"), b"\xff\x00not an order event", key)
    assert producer.flush(10) == 0

    def listed() -> list[dict]:
        letters = json_lines(ok("dead-letters", "--json", target=target))
        return [e for e in letters if base64.b64decode(e["dead_letter"]["key"]) == key]

    # Every processor that reads `orders` dead-letters it, each in its own time.
    ours = eventually(lambda: len(listed()) >= 3 and listed(), what="the poison record's dead letters")
    processor = ours[0]["dead_letter"]["processor"]
    text = ok("dead-letters", "--processor", processor, "--limit", "1", target=target).splitlines()
    assert len(text) == 1 and processor in text[0] and "reason: " in text[0]
