"""The `oms` command's parsing, output and the demo's order mix, without a
server (every command is run against the real platform in
tests/e2e/test_cli.py)."""

from __future__ import annotations

import io
import json
import random

import grpc
import pytest

from oms_client import _demo, cli
from oms_client.errors import make_error
from oms_client.types import CheckOutcome, CheckResult, CheckType, Order, OrderState, ProductStock


def parse(*argv: str) -> object:
    return cli.build_parser().parse_args(argv)


def test_common_options_go_before_or_after_the_command() -> None:
    before = parse("--target", "h:1", "--json", "get", "order-1")
    after = parse("get", "order-1", "--target", "h:1", "--json")
    assert vars(before) == vars(after)
    assert before.target == "h:1" and before.json is True


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        [],
        ["place"],
        ["get"],
        ["watch"],
        ["stock"],
        ["stock", "set"],
        ["stock", "get"],
        ["customer"],
        ["customer", "upsert"],
        ["customer", "get"],
        ["pay"],
        ["demo"],
    ):
        with pytest.raises(SystemExit) as exited:
            cli.main([*argv, "--help"])
        assert exited.value.code == 0
        assert "usage: oms" in capsys.readouterr().out


def test_a_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["place", "--product", "JUMPERS"])
    assert exited.value.code == 2
    assert "required" in capsys.readouterr().err


def test_the_level_is_checked() -> None:
    assert parse("customer", "upsert", "42", "--level", "gold").level == "GOLD"
    with pytest.raises(SystemExit):
        parse("customer", "upsert", "42", "--level", "diamond")


def test_the_target_comes_from_oms_target(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMS_TARGET", "127.0.0.1:1")
    assert cli.main(["--timeout", "0.5", "stock", "get", "JUMPERS"]) == cli.EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("oms: UNAVAILABLE: ") and "127.0.0.1:1" in err and err.count("\n") == 1


def test_errors_print_one_line_or_json() -> None:
    error = make_error(grpc.StatusCode.NOT_FOUND, "no order order-9")
    for as_json in (False, True):
        err = io.StringIO()
        cli.Output(as_json, out=io.StringIO(), err=err).error(error)
        line = err.getvalue()
        assert line.count("\n") == 1
        if as_json:
            assert json.loads(line) == {"error": {"code": "NOT_FOUND", "message": "no order order-9", "details": []}}
        else:
            assert line == "oms: NOT_FOUND: no order order-9\n"


def test_an_order_in_one_line() -> None:
    order = Order(
        order_id="order-1",
        customer_id=42,
        product="JUMPERS",
        quantity=2,
        price=12.5,
        state=OrderState.ORDER_STATE_FAILED,
        version=2,
        checks=[
            CheckOutcome(
                check_type=CheckType.CHECK_TYPE_INVENTORY, result=CheckResult.CHECK_RESULT_FAIL, reason="0 available"
            )
        ],
    )
    assert cli.format_order(order) == (
        "order-1  FAILED  customer 42  2 x JUMPERS @ 12.50  v2  checks: inventory FAIL (0 available)"
    )
    out = io.StringIO()
    cli.Output(True, out=out).emit(order, "")
    assert json.loads(out.getvalue())["state"] == "ORDER_STATE_FAILED"
    assert (
        cli.format_stock(ProductStock(product="J", quantity=10, reserved=2))
        == "J  quantity 10  reserved 2  available 8"
    )


def test_the_demo_mix_exercises_every_check() -> None:
    config = _demo.DemoConfig(target="x", count=400, seed=7)
    orders = _demo.plan(config, "run1", random.Random(7))
    kinds = {o.kind for o in orders}
    assert kinds == {k for k, _ in _demo.MIX}
    assert len({o.order_id for o in orders}) == 400
    spent: dict[int, float] = {}
    for o in orders:
        if o.kind == _demo.GOOD:
            spent[o.customer_id] = spent.get(o.customer_id, 0) + o.quantity * o.price
        elif o.kind == _demo.FRAUD:
            assert o.quantity * o.price >= 2000
        elif o.kind == _demo.OVER_STOCK:
            assert o.quantity > _demo.SCARCE_STOCK
        elif o.kind == _demo.BAD_DETAILS:
            assert o.quantity <= 0 or o.price < 0
        else:
            assert o.customer_id == 0
    assert max(spent.values()) < 2000, "good customers must stay below the fraud limit"
    good_ids, other_ids = set(spent), {o.customer_id for o in orders if o.kind != _demo.GOOD}
    assert not good_ids & other_ids


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert [_demo.percentile(values, p) for p in (50, 95, 99)] == [50.0, 95.0, 99.0]
    assert _demo.percentile([], 50) == 0.0


def test_the_lifecycle_commands_parse() -> None:
    cancel = parse("cancel", "order-1", "--reason", "changed my mind")
    orders = parse("orders", "--customer", "42", "--state", "validated", "--limit", "3")

    assert (cancel.order_id, cancel.reason) == ("order-1", "changed my mind")
    assert parse("ship", "order-1").order_id == "order-1"
    assert parse("history", "order-1").order_id == "order-1"
    assert (orders.customer, orders.state, orders.product, orders.limit) == (42, "VALIDATED", None, 3)
    with pytest.raises(SystemExit):
        parse("orders", "--state", "sideways")
