"""`oms`: the OMS API from the shell.

    oms stock set JUMPERS 10
    oms place --customer 42 --product JUMPERS --quantity 2 --price 12.5 --watch
    oms watch order-1001
    oms --json get order-1001 | jq .state

Every command takes --target (default $OMS_TARGET or localhost:50051),
--json (machine-readable output: one JSON object per line) and --timeout;
and, for a front door with TLS and tokens, --token ($OMS_TOKEN), --ca
($OMS_TLS_CA), --cert and --key ($OMS_TLS_CLIENT_CERT, $OMS_TLS_CLIENT_KEY).
`oms token --admin` / `oms token --customer 42` mint a development token
from $OMS_AUTH_JWT_SECRET (needs PyJWT: pip install 'oms-client[token]').
A failed call prints its status and details on one line to stderr and
exits 1; a usage error exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TextIO

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from oms_client import _requests
from oms_client._version import __version__
from oms_client.client import OmsClient
from oms_client.errors import OmsError
from oms_client.types import (
    Customer,
    CustomerLevel,
    DeadLetterEntry,
    Order,
    OrderHistoryEvent,
    OrderState,
    PlaceOrderResponse,
    ProductStock,
    RecordPaymentResponse,
    check_result_name,
    check_type_name,
    event_kind_name,
    state_name,
)

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def to_dict(message: Message) -> dict[str, Any]:
    return MessageToDict(message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)


def format_order(order: Order) -> str:
    text = (
        f"{order.order_id}  {state_name(order.state)}  customer {order.customer_id}  "
        f"{order.quantity} x {order.product} @ {order.price:.2f}  v{order.version}"
    )
    if order.checks:
        checks = []
        for check in order.checks:
            outcome = f"{check_type_name(check.check_type).lower()} {check_result_name(check.result)}"
            if check.reason:
                outcome += f" ({check.reason})"
            checks.append(outcome)
        text += "  checks: " + ", ".join(checks)
    return text


def format_stock(stock: ProductStock) -> str:
    return (
        f"{stock.product}  quantity {stock.quantity}  reserved {stock.reserved}  "
        f"available {stock.quantity - stock.reserved}"
    )


def format_customer(customer: Customer) -> str:
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p) or "(no name)"
    level = CustomerLevel.Name(customer.level).removeprefix("CUSTOMER_LEVEL_")
    text = f"customer {customer.customer_id}  {name}  {level}"
    if customer.email:
        text += f"  <{customer.email}>"
    if customer.address:
        text += f"  {customer.address}"
    return text


def format_payment(response: RecordPaymentResponse) -> str:
    payment = response.payment
    how = "recorded" if response.created else "already recorded"
    return f"payment {payment.payment_id}  order {payment.order_id}  {payment.amount:.2f} {payment.currency}  ({how})"


class Output:
    """Writes results as text lines or JSON lines; errors to stderr."""

    def __init__(self, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.as_json = as_json
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def emit(self, message: Message, text: str) -> None:
        line = json.dumps(to_dict(message)) if self.as_json else text
        print(line, file=self.out, flush=True)

    def emit_dict(self, value: dict[str, Any], text: str) -> None:
        print(json.dumps(value) if self.as_json else text, file=self.out, flush=True)

    def error(self, error: OmsError) -> None:
        line = json.dumps({"error": error.to_dict()}) if self.as_json else f"oms: {error.describe()}"
        print(line, file=self.err, flush=True)


def _now() -> str:
    return datetime.now().strftime("%H:%M:%S.%f")[:-3]


# -- commands


def cmd_place(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    placed: PlaceOrderResponse = client.place_order(
        order_id=args.order_id,
        customer_id=args.customer,
        product=args.product,
        quantity=args.quantity,
        price=args.price,
    )
    how = "placed" if placed.created else "already placed"
    out.emit(placed, f"{format_order(placed.order)}  ({how})")
    if args.watch:
        seen = placed.order.version
        after = placed.position if placed.HasField("position") else None
        for order in client.watch_order(placed.order.order_id, after=after, timeout=args.watch_timeout):
            if order.version > seen:
                seen = order.version
                out.emit(order, f"{_now()}  {format_order(order)}")
    return 0


def cmd_get(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    order = client.get_order(args.order_id)
    out.emit(order, format_order(order))
    return 0


def cmd_watch(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    for order in client.watch_order(args.order_id, timeout=args.watch_timeout):
        out.emit(order, f"{_now()}  {format_order(order)}")
    return 0


def cmd_stock_set(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    stock = client.set_stock(args.product, args.quantity)
    out.emit(stock, format_stock(stock))
    return 0


def cmd_stock_get(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    stock = client.get_stock(args.product)
    out.emit(stock, format_stock(stock))
    return 0


def cmd_customer_upsert(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    customer = client.upsert_customer(
        customer_id=args.customer_id,
        first_name=args.first_name,
        last_name=args.last_name,
        email=args.email,
        address=args.address,
        level=args.level,
    )
    out.emit(customer, format_customer(customer))
    return 0


def cmd_customer_get(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    customer = client.get_customer(args.customer_id)
    out.emit(customer, format_customer(customer))
    return 0


def cmd_pay(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    response = client.record_payment(
        order_id=args.order_id, amount=args.amount, currency=args.currency, payment_id=args.payment_id
    )
    out.emit(response, format_payment(response))
    return 0


def cmd_cancel(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    response = client.cancel_order(args.order_id, reason=args.reason)
    how = "cancelled" if response.changed else "already cancelled"
    out.emit(response, f"{format_order(response.order)}  ({how})")
    return 0


def cmd_ship(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    response = client.ship_order(args.order_id)
    how = "shipped" if response.changed else "already shipped"
    out.emit(response, f"{format_order(response.order)}  ({how})")
    return 0


def format_event(event: OrderHistoryEvent) -> str:
    when = event.occurred_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    text = f"v{event.version}  {when}  {event_kind_name(event.kind)}  -> {state_name(event.state)}"
    if event.reason:
        text += f"  reason: {event.reason}"
    if event.checks:
        text += "  checks: " + ", ".join(
            f"{check_type_name(c.check_type).lower()} {check_result_name(c.result)}" for c in event.checks
        )
    return text


def cmd_history(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    for event in client.list_order_events(args.order_id):
        out.emit(event, format_event(event))
    return 0


def cmd_orders(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    orders = client.list_orders(
        customer_id=args.customer, state=args.state, product=args.product, page_size=args.page_size
    )
    for shown, order in enumerate(orders):
        if args.limit is not None and shown >= args.limit:
            break
        out.emit(order, format_order(order))
    return 0


def format_dead_letter(entry: DeadLetterEntry) -> str:
    letter = entry.dead_letter
    when = letter.failed_at.ToDatetime().isoformat(timespec="milliseconds") + "Z"
    source = f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}"
    return f"{when}  {letter.processor}  {source}  key {letter.key!r}  reason: {letter.reason}"


def cmd_dead_letters(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    entries = client.list_dead_letters(processor=args.processor, page_size=args.page_size)
    for shown, entry in enumerate(entries):
        if args.limit is not None and shown >= args.limit:
            break
        out.emit(entry, format_dead_letter(entry))
    return 0


def _state(text: str) -> str:
    name = text.upper().removeprefix("ORDER_STATE_")
    if f"ORDER_STATE_{name}" not in OrderState.keys() or name == "UNSPECIFIED":
        raise argparse.ArgumentTypeError(f"unknown state {text!r}")
    return name


def cmd_demo(client: OmsClient, args: argparse.Namespace, out: Output) -> int:
    from oms_client import _demo

    client.close()  # the demo runs on asyncio with a client of its own
    config = _demo.DemoConfig(
        target=args.target,
        rate=args.rate,
        count=args.count,
        seed=args.seed,
        timeout=args.timeout,
        security=_security(args),
    )
    return asyncio.run(_demo.run(config, out))


# -- parsing


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0: {text}")
    return value


def _level(text: str) -> str:
    name = text.upper().removeprefix("CUSTOMER_LEVEL_")
    if f"CUSTOMER_LEVEL_{name}" not in CustomerLevel.keys():
        choices = ", ".join(k.removeprefix("CUSTOMER_LEVEL_").lower() for k in CustomerLevel.keys()[1:])
        raise argparse.ArgumentTypeError(f"unknown level {text!r}; one of {choices}")
    return name


def _common() -> argparse.ArgumentParser:
    """Options every command accepts, before or after its name."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument(
        "--target",
        default=argparse.SUPPRESS,
        help="host:port of the OMS front door (default: $OMS_TARGET or localhost:50051)",
    )
    group.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON, one object per line")
    group.add_argument(
        "--timeout",
        type=_positive_float,
        default=argparse.SUPPRESS,
        help=f"deadline of each call in seconds, retries included (default {_requests.DEFAULT_TIMEOUT_S:g})",
    )
    security = common.add_argument_group("security (a front door with TLS and tokens)")
    for flag, variable, text in [
        ("--token", "OMS_TOKEN", "bearer token sent with every call"),
        ("--ca", "OMS_TLS_CA", "CA file (PEM) that verifies the server; turns TLS on"),
        ("--cert", "OMS_TLS_CLIENT_CERT", "client certificate (PEM), for mutual TLS"),
        ("--key", "OMS_TLS_CLIENT_KEY", "key of the client certificate (PEM)"),
    ]:
        security.add_argument(flag, default=argparse.SUPPRESS, help=f"{text} (default: ${variable})")
    return common


SECURITY_VARIABLES = {
    "token": "OMS_TOKEN",
    "ca": "OMS_TLS_CA",
    "cert": "OMS_TLS_CLIENT_CERT",
    "key": "OMS_TLS_CLIENT_KEY",
}


def _security(args: argparse.Namespace) -> dict[str, str]:
    """OmsClient's token, ca, cert and key: from the options, else the environment."""
    found = {
        name: getattr(args, name, None) or os.environ.get(variable) for name, variable in SECURITY_VARIABLES.items()
    }
    return {name: value for name, value in found.items() if value}


def cmd_token(args: argparse.Namespace, out: Output) -> int:
    """Mints a development token from $OMS_AUTH_JWT_SECRET (HS256)."""
    secret = os.environ.get("OMS_AUTH_JWT_SECRET")
    if not secret:
        print("oms token: set OMS_AUTH_JWT_SECRET (the gateway's HS256 secret)", file=sys.stderr)
        return EXIT_ERROR
    try:
        import jwt
    except ImportError:
        print("oms token: needs PyJWT: pip install 'oms-client[token]'", file=sys.stderr)
        return EXIT_ERROR
    now = int(time.time())
    claims: dict[str, Any] = {"iat": now, "exp": now + int(args.ttl)}
    if args.admin:
        claims.update(sub=args.subject or "admin", scope="oms:admin")
    else:
        claims.update(sub=args.subject or f"customer-{args.customer}", scope="oms:customer", customer_id=args.customer)
    for name, variable in (("iss", "OMS_AUTH_JWT_ISSUER"), ("aud", "OMS_AUTH_JWT_AUDIENCE")):
        if os.environ.get(variable):
            claims[name] = os.environ[variable]
    print(jwt.encode(claims, secret, algorithm="HS256"))
    return 0


Handler = Callable[[OmsClient, argparse.Namespace, Output], int]


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="oms",
        description="Place, watch and inspect orders, stock, customers and payments of the OMS.",
        epilog="Each command has --help. Errors go to stderr as one line; the exit status is 1.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"oms-client {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(
        group: Any, name: str, handler: Handler | None, help_text: str, description: str | None = None
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = group.add_parser(
            name, help=help_text, description=description or help_text, parents=[common]
        )
        if handler is not None:
            sub.set_defaults(handler=handler)
        return sub

    place = command(
        commands,
        "place",
        cmd_place,
        "place an order",
        "Place an order (state CREATED). The order id is the idempotency key: "
        "a fresh one is generated unless --order-id is given.",
    )
    place.add_argument("--customer", "-c", type=int, required=True, metavar="ID", help="customer id (> 0)")
    place.add_argument("--product", "-p", required=True, help="product SKU, e.g. JUMPERS")
    place.add_argument("--quantity", "-q", type=int, required=True, help="units to order")
    place.add_argument("--price", type=float, required=True, help="unit price")
    place.add_argument("--order-id", help="idempotency key: 1-64 of A-Z a-z 0-9 . _ : - (default: generated)")
    place.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="then print each state change until a terminal state (with --json: the PlaceOrder answer, then one order a line)",
    )
    place.add_argument("--watch-timeout", type=_positive_float, metavar="S", help="give up watching after S seconds")

    get = command(commands, "get", cmd_get, "show an order's latest state")
    get.add_argument("order_id", metavar="ORDER_ID")

    watch = command(
        commands,
        "watch",
        cmd_watch,
        "print an order's state, then each change until a terminal state",
        "Print an order's current state, then each state change as it happens; "
        "ends after VALIDATED, FAILED, SHIPPED or CANCELLED.",
    )
    watch.add_argument("order_id", metavar="ORDER_ID")
    watch.add_argument(
        "--watch-timeout", type=_positive_float, metavar="S", help="give up after S seconds (default: never)"
    )

    stock = command(commands, "stock", None, "set or show a product's stock")
    stock_commands = stock.add_subparsers(dest="stock_command", metavar="COMMAND", required=True)
    stock_set = command(
        stock_commands,
        "set",
        cmd_stock_set,
        "set a product's units in the warehouse",
        "Set a product's units in the warehouse (the latest value wins); "
        "answers once the inventory check has applied it.",
    )
    stock_set.add_argument("product", metavar="PRODUCT")
    stock_set.add_argument("quantity", metavar="QUANTITY", type=int)
    stock_get = command(stock_commands, "get", cmd_stock_get, "show a product's stock and reserved units")
    stock_get.add_argument("product", metavar="PRODUCT")

    customer = command(commands, "customer", None, "create, replace or show a customer")
    customer_commands = customer.add_subparsers(dest="customer_command", metavar="COMMAND", required=True)
    upsert = command(customer_commands, "upsert", cmd_customer_upsert, "create or replace a customer")
    upsert.add_argument("customer_id", metavar="CUSTOMER_ID", type=int)
    upsert.add_argument("--first-name", default="")
    upsert.add_argument("--last-name", default="")
    upsert.add_argument("--email", default="")
    upsert.add_argument("--address", default="")
    upsert.add_argument(
        "--level", type=_level, default="BRONZE", help="bronze, silver, gold or platinum (default bronze)"
    )
    customer_get = command(customer_commands, "get", cmd_customer_get, "show a customer")
    customer_get.add_argument("customer_id", metavar="CUSTOMER_ID", type=int)

    pay = command(
        commands,
        "pay",
        cmd_pay,
        "record a payment for an order",
        "Record a payment for an order. The payment id is the idempotency key: "
        "a fresh one is generated unless --payment-id is given.",
    )
    pay.add_argument("order_id", metavar="ORDER_ID")
    pay.add_argument("amount", metavar="AMOUNT", type=float)
    pay.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
    pay.add_argument("--payment-id", help="idempotency key (default: generated)")

    cancel = command(
        commands,
        "cancel",
        cmd_cancel,
        "cancel an order",
        "Cancel a CREATED or VALIDATED order; its reserved stock is released. "
        "Cancelling a cancelled order again shows it unchanged.",
    )
    cancel.add_argument("order_id", metavar="ORDER_ID")
    cancel.add_argument("--reason", default="", help="why, kept in the order's history")

    ship = command(
        commands,
        "ship",
        cmd_ship,
        "ship an order",
        "Ship a VALIDATED order paid in full; its units leave stock. Shipping a shipped order again shows it unchanged.",
    )
    ship.add_argument("order_id", metavar="ORDER_ID")

    history = command(commands, "history", cmd_history, "list what happened to an order, oldest first")
    history.add_argument("order_id", metavar="ORDER_ID")

    orders = command(
        commands,
        "orders",
        cmd_orders,
        "list orders, newest first",
        "List orders newest first, by customer, state or product (each optional), fetching a page at a time.",
    )
    orders.add_argument("--customer", "-c", type=int, metavar="ID", help="only this customer's orders")
    orders.add_argument("--state", "-s", type=_state, help="only orders in this state, e.g. VALIDATED")
    orders.add_argument("--product", "-p", help="only orders of this product")
    orders.add_argument("--limit", "-n", type=int, metavar="N", help="show at most N orders (default: all)")
    orders.add_argument(
        "--page-size", type=int, default=0, metavar="N", help="orders per call (default: the server's, 50)"
    )

    dead_letters = command(
        commands,
        "dead-letters",
        cmd_dead_letters,
        "list what the processors gave up on, newest first (admins)",
        "List the dead letters, newest first: each record a processor could never process, "
        "where it came from and why. Needs an admin token when auth is on.",
    )
    dead_letters.add_argument("--processor", help="only this processor's, e.g. fraud-check")
    dead_letters.add_argument("--limit", "-n", type=int, metavar="N", help="show at most N (default: all)")
    dead_letters.add_argument(
        "--page-size", type=int, default=0, metavar="N", help="dead letters per call (default: the server's, 50)"
    )

    demo = command(
        commands,
        "demo",
        cmd_demo,
        "play the whole story of many orders and show live progress",
        "Register customers of every level and stock a few products of its own, "
        "then place --count orders at --rate per second: mostly good ones, and some "
        "that fail each check (more than the stock, over the fraud limit, bad "
        "details) or that the front door rejects. Most good orders are then paid, "
        "some shipped and some cancelled. Shows placed, validated, failed, paid, "
        "shipped, cancelled, rate and latency p50/p95/p99 from placing to the "
        "verdict as it goes, and at the end the count of orders in each final "
        "state. Exits 1 if any order did not end as its kind and fate should.",
    )
    demo.add_argument("--rate", type=_positive_float, default=10.0, help="orders per second (default 10)")
    demo.add_argument("--count", type=int, default=100, help="orders to place (default 100)")
    demo.add_argument("--seed", type=int, help="random seed, for a repeatable mix")

    token = commands.add_parser(
        "token",
        help="mint a development token from $OMS_AUTH_JWT_SECRET",
        description="Print a bearer token signed with $OMS_AUTH_JWT_SECRET (HS256), with the issuer and audience of"
        " $OMS_AUTH_JWT_ISSUER and $OMS_AUTH_JWT_AUDIENCE when set. For development: real tokens come from your"
        " identity provider.",
    )
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--admin", action="store_true", help="scope oms:admin: every call")
    who.add_argument("--customer", type=int, metavar="ID", help="scope oms:customer for customer ID")
    token.add_argument("--subject", help="the token's sub (default: admin or customer-ID)")
    token.add_argument("--ttl", type=_positive_float, default=3600, help="seconds it stays valid (default 3600)")
    token.set_defaults(handler=None, minting=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.target = getattr(args, "target", None) or os.environ.get("OMS_TARGET") or _requests.DEFAULT_TARGET
    args.json = getattr(args, "json", False)
    args.timeout = getattr(args, "timeout", _requests.DEFAULT_TIMEOUT_S)
    if getattr(args, "count", 1) < 1:
        parser.error("--count must be at least 1")
    out = Output(args.json)
    if getattr(args, "minting", False):
        return cmd_token(args, out)
    try:
        security = _security(args)
        client = OmsClient(
            args.target,
            timeout=args.timeout,
            token=security.get("token"),
            ca=security.get("ca"),
            cert=security.get("cert"),
            key=security.get("key"),
        )
    except (OSError, ValueError) as error:
        print(f"oms: {error}", file=sys.stderr)
        return EXIT_ERROR
    try:
        handler: Handler = args.handler
        return handler(client, args, out)
    except OmsError as error:
        out.error(error)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `oms watch ... | head -1`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
