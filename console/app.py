"""The console's pages: server-rendered HTML (Jinja2) over the public API,
through the SDK's AsyncOmsClient, plus the live view's server-sent events."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import grpc
import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp
from starlette.applications import Starlette
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from console import metrics
from console.access import CSRF_COOKIE, CSRF_FIELD, TOKEN_COOKIE, Viewer, csrf_ok, new_csrf_token, viewer_of
from oms_client import (
    AsyncOmsClient,
    DeadLetterEntry,
    ListPaymentsResponse,
    OmsError,
    Order,
    OrderState,
    check_result_name,
    check_type_name,
    event_kind_name,
    state_name,
)
from oms_client.client import channel_options

HERE = Path(__file__).resolve().parent
STATES = ("CREATED", "VALIDATED", "FAILED", "SHIPPED", "CANCELLED")
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
CALL_TIMEOUT_S = 5.0
LIVE_ORDERS = 12


@dataclass
class ConsoleSettings:
    """target: the front door; credentials: TLS (None: plaintext); auth: the
    API asks for tokens, so the console asks the viewer for one."""

    target: str
    auth: bool
    credentials: grpc.ChannelCredentials | None = None
    metrics_urls: Sequence[str] = ()
    tick_s: float = 1.0
    channel: grpc.aio.Channel | None = field(default=None, repr=False)


def _when(stamp: Timestamp) -> str:
    if not stamp.seconds and not stamp.nanos:
        return ""
    return stamp.ToDatetime(tzinfo=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def dead_letter_row(entry: DeadLetterEntry) -> dict[str, Any]:
    letter = entry.dead_letter
    return {
        "failed_at": letter.failed_at.ToDatetime().isoformat(sep=" ", timespec="seconds"),
        "processor": letter.processor,
        "source": f"{letter.source_topic}[{letter.source_partition}]@{letter.source_offset}",
        # Keys are order ids, customer ids, products: text, but the log holds bytes.
        "key": letter.key.decode("utf-8", errors="replace"),
        "reason": letter.reason,
        "where": f"{entry.partition}@{entry.offset}",
    }


def order_row(order: Order) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "customer_id": order.customer_id,
        "product": order.product,
        "quantity": order.quantity,
        "price": f"{order.price:.2f}",
        "state": state_name(order.state),
        "placed_at": _when(order.placed_at),
        "version": order.version,
    }


def payment_facts(order: Order, listed: ListPaymentsResponse) -> dict[str, Any]:
    """The order's payments, oldest first, and their total against the order's amount."""
    amount_cents = round(order.quantity * order.price * 100)
    paid_cents = round(listed.paid * 100)
    return {
        "payments": [
            {
                "payment_id": p.payment_id,
                "amount": f"{p.amount:.2f}",
                "currency": p.currency,
                "recorded_at": _when(p.recorded_at),
            }
            for p in listed.payments
        ],
        "paid": f"{paid_cents / 100:.2f}",
        "amount": f"{amount_cents / 100:.2f}",
        "outstanding": f"{max(amount_cents - paid_cents, 0) / 100:.2f}",
        "paid_in_full": paid_cents >= amount_cents,
    }


def may_cancel(viewer: Viewer, order: Order) -> bool:
    """A customer cancels its own orders, an admin any, until shipped or decided against."""
    own = viewer.admin or viewer.customer_id == order.customer_id
    return own and order.state in (OrderState.ORDER_STATE_CREATED, OrderState.ORDER_STATE_VALIDATED)


def may_ship(viewer: Viewer, order: Order) -> bool:
    """Shipping is the shop's (admin), once validated; the API also wants it paid."""
    return viewer.admin and order.state == OrderState.ORDER_STATE_VALIDATED


def refusal(error: OmsError) -> str:
    """The API's reason, plainly: its message, and what the code means."""
    return f"{error.message} ({error.code.name.replace('_', ' ').lower()})" if error.message else error.code.name


STATUS_OF = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
}


class Console:
    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))
        self._channel = settings.channel

    # The one channel every viewer's calls share (each with its own token).
    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            s = self.settings
            if s.credentials is None:
                self._channel = grpc.aio.insecure_channel(s.target, options=channel_options())
            else:
                self._channel = grpc.aio.secure_channel(s.target, s.credentials, options=channel_options())
        return self._channel

    async def close(self) -> None:
        if self._channel is not None and self.settings.channel is None:
            await self._channel.close()

    def client(self, viewer: Viewer) -> AsyncOmsClient:
        return AsyncOmsClient(self.settings.target, channel=self.channel, token=viewer.token, timeout=CALL_TIMEOUT_S)

    # Rendering, sessions, errors

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        viewer = context.get("viewer")
        response = self.templates.TemplateResponse(
            request,
            template,
            {"csrf": csrf, "csrf_field": CSRF_FIELD, "auth": self.settings.auth, "viewer": viewer, **context},
            status_code=status,
        )
        if request.cookies.get(CSRF_COOKIE) != csrf:
            self._cookie(request, response, CSRF_COOKIE, csrf)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
        )
        return response

    @staticmethod
    def _cookie(request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name, value, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/"
        )

    def viewer(self, request: Request) -> Viewer | None:
        return viewer_of(request.cookies.get(TOKEN_COOKIE), self.settings.auth)

    def login_page(self, request: Request, error: str = "", status: int = 200) -> Response:
        response = self.render(
            request, "login.html", {"error": error, "next": request.query_params.get("next", "/orders")}, status
        )
        if error:
            response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    def to_login(self, request: Request) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", status_code=303)

    def failed(
        self, request: Request, viewer: Viewer, error: OmsError, template: str, context: dict[str, Any]
    ) -> Response:
        if error.code == grpc.StatusCode.UNAUTHENTICATED:
            return self.login_page(request, f"The API refused this token: {refusal(error)}", 401)
        return self.render(
            request, template, {**context, "viewer": viewer, "error": refusal(error)}, STATUS_OF.get(error.code, 502)
        )

    async def checked_form(self, request: Request) -> FormData | None:
        form = await request.form()
        return form if csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)) else None

    def forbidden(self, request: Request, viewer: Viewer | None) -> Response:
        return self.render(
            request,
            "message.html",
            {"viewer": viewer, "error": "This form has expired: reload the page and try again."},
            403,
        )

    # Pages

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/orders", status_code=303)

    async def login(self, request: Request) -> Response:
        if not self.settings.auth:
            return RedirectResponse("/orders", status_code=303)
        if request.method == "GET":
            return self.login_page(request)
        form = await self.checked_form(request)
        if form is None:
            return self.forbidden(request, None)
        token = str(form.get("token", "")).strip()
        target = str(form.get("next", "/orders"))
        if not target.startswith("/") or target.startswith("//"):
            target = "/orders"
        viewer = viewer_of(token, True)
        if viewer is None:
            return self.login_page(request, "Paste a token.", 400)
        # The API decides: one cheap call with the token.
        try:
            await self.client(viewer).list_orders_page(customer_id=viewer.customer_id, page_size=1)
        except OmsError as error:
            if error.code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                return self.login_page(request, f"The API refused this token: {refusal(error)}", 401)
        response = RedirectResponse(target, status_code=303)
        self._cookie(request, response, TOKEN_COOKIE, token)
        return response

    async def logout(self, request: Request) -> Response:
        if await self.checked_form(request) is None:
            return self.forbidden(request, self.viewer(request))
        response = RedirectResponse("/login" if self.settings.auth else "/orders", status_code=303)
        response.delete_cookie(TOKEN_COOKIE, path="/")
        return response

    async def orders(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        q = request.query_params
        customer_text = q.get("customer", "").strip()
        state = q.get("state", "").strip().upper()
        product = q.get("product", "").strip()
        token = q.get("page_token", "")
        size_text = q.get("size", "")
        size = min(int(size_text), MAX_PAGE_SIZE) if size_text.isdigit() and int(size_text) > 0 else PAGE_SIZE
        filters = {"customer": customer_text, "state": state, "product": product}
        context: dict[str, Any] = {"filters": filters, "states": STATES, "orders": [], "next": "", "paged": bool(token)}
        if customer_text and not customer_text.isdigit():
            return self.render(
                request, "orders.html", {**context, "viewer": viewer, "error": "A customer is a number."}, 400
            )
        if state and state not in STATES:
            return self.render(request, "orders.html", {**context, "viewer": viewer, "error": "Unknown state."}, 400)
        customer_id = int(customer_text) if customer_text else viewer.customer_id
        try:
            found, next_token = await self.client(viewer).list_orders_page(
                customer_id=customer_id,
                state=state or None,
                product=product or None,
                page_size=size,
                page_token=token,
            )
        except OmsError as error:
            return self.failed(request, viewer, error, "orders.html", context)
        shown = {k: v for k, v in {**filters, "size": size_text if size != PAGE_SIZE else ""}.items() if v}
        context.update(
            orders=[order_row(o) for o in found],
            next=f"/orders?{urlencode({**shown, 'page_token': next_token})}" if next_token else "",
            first=f"/orders?{urlencode(shown)}",
        )
        return self.render(request, "orders.html", {**context, "viewer": viewer})

    async def order_context(self, viewer: Viewer, order_id: str) -> dict[str, Any]:
        client = self.client(viewer)
        order, events, payments = await asyncio.gather(
            client.get_order(order_id), client.list_order_events(order_id), client.list_payments(order_id)
        )
        return {
            "order": order_row(order),
            **payment_facts(order, payments),
            "checks": [
                {"type": check_type_name(c.check_type), "result": check_result_name(c.result), "reason": c.reason}
                for c in order.checks
            ],
            "events": [
                {
                    "kind": event_kind_name(e.kind),
                    "when": _when(e.occurred_at),
                    "state": state_name(e.state),
                    "reason": e.reason,
                    "checks": [f"{check_type_name(c.check_type)}: {check_result_name(c.result)}" for c in e.checks],
                }
                for e in events
            ],
            "may_cancel": may_cancel(viewer, order),
            "may_ship": may_ship(viewer, order),
        }

    async def order(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        order_id = request.path_params["order_id"]
        try:
            context = await self.order_context(viewer, order_id)
        except OmsError as error:
            return self.failed(request, viewer, error, "message.html", {"title": f"Order {order_id}"})
        done = request.query_params.get("done", "")
        notice = {"cancelled": "The order is cancelled.", "shipped": "The order is shipped."}.get(done, "")
        return self.render(request, "order.html", {**context, "viewer": viewer, "notice": notice})

    async def order_action(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        form = await self.checked_form(request)
        if form is None:
            return self.forbidden(request, viewer)
        order_id = request.path_params["order_id"]
        action = request.path_params["action"]
        if action not in ("cancel", "ship"):
            return Response("not found", status_code=404)
        client = self.client(viewer)
        try:
            if action == "cancel":
                await client.cancel_order(
                    order_id, reason=str(form.get("reason", "")).strip() or "cancelled from the console"
                )
                done = "cancelled"
            else:
                await client.ship_order(order_id)
                done = "shipped"
        except OmsError as error:
            if error.code == grpc.StatusCode.UNAUTHENTICATED:
                return self.login_page(request, f"The API refused this token: {refusal(error)}", 401)
            try:
                context = await self.order_context(viewer, order_id)
            except OmsError as again:
                return self.failed(request, viewer, again, "message.html", {"title": f"Order {order_id}"})
            what = "cancel" if action == "cancel" else "ship"
            return self.render(
                request,
                "order.html",
                {**context, "viewer": viewer, "error": f"Could not {what} the order: {refusal(error)}"},
                STATUS_OF.get(error.code, 502),
            )
        return RedirectResponse(f"/orders/{order_id}?done={done}", status_code=303)

    async def live(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        return self.render(request, "live.html", {"viewer": viewer, "metrics": viewer.admin})

    async def live_events(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return Response("a token is needed", status_code=401)
        return StreamingResponse(
            self.ticks(viewer),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    async def ticks(self, viewer: Viewer) -> AsyncIterator[str]:
        """One `tick` event a second: orders new or changed since the last
        one, and (for an admin) the platform's figures from its metrics."""
        client = self.client(viewer)
        versions: dict[str, int] = {}
        before: metrics.Scrape | None = None
        # The scrapes of the last minute: latency percentiles over that window.
        window: collections.deque[metrics.Scrape] = collections.deque(maxlen=max(2, round(60 / self.settings.tick_s)))
        while True:
            payload: dict[str, Any] = {"orders": []}
            if viewer.admin and self.settings.metrics_urls:
                now = await metrics.scrape(self.settings.metrics_urls, time.monotonic())
                payload["metrics"] = metrics.summary(now, before, window[0] if window else None)
                before = now
                window.append(now)
            try:
                found, _ = await client.list_orders_page(customer_id=viewer.customer_id, page_size=LIVE_ORDERS)
            except OmsError as error:
                payload["error"] = refusal(error)
                found = []
            for order in reversed(found):  # oldest first: the page puts each new one on top
                if versions.get(order.order_id) != order.version:
                    versions[order.order_id] = order.version
                    payload["orders"].append(order_row(order))
            yield f"event: tick\ndata: {json.dumps(payload)}\n\n"
            await asyncio.sleep(self.settings.tick_s)

    async def stock(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        error = ""
        status = 200
        notice = ""
        if request.method == "POST":
            form = await self.checked_form(request)
            if form is None:
                return self.forbidden(request, viewer)
            product = str(form.get("product", "")).strip()
            quantity = str(form.get("quantity", "")).strip()
            try:
                if not quantity.lstrip("-").isdigit():
                    raise ValueError
                stock = await self.client(viewer).set_stock(product, int(quantity))
                return RedirectResponse(
                    f"/stock?{urlencode({'product': stock.product, 'done': 'set'})}", status_code=303
                )
            except ValueError:
                error, status = "The quantity is a whole number.", 400
            except OmsError as refused:
                if refused.code == grpc.StatusCode.UNAUTHENTICATED:
                    return self.login_page(request, f"The API refused this token: {refusal(refused)}", 401)
                error, status = f"Could not set the stock: {refusal(refused)}", STATUS_OF.get(refused.code, 502)
        elif request.query_params.get("done") == "set":
            notice = "Stock set."
        client = self.client(viewer)
        asked = [p.strip() for p in request.query_params.getlist("product") if p.strip()]
        products = list(dict.fromkeys(asked))
        try:
            recent, _ = await client.list_orders_page(customer_id=viewer.customer_id, page_size=100)
        except OmsError as refused:
            if refused.code == grpc.StatusCode.UNAUTHENTICATED:
                return self.login_page(request, f"The API refused this token: {refusal(refused)}", 401)
            recent = []
        for order in recent:
            if order.product not in products:
                products.append(order.product)
        levels = await asyncio.gather(*(client.get_stock(p) for p in products), return_exceptions=True)
        rows: list[dict[str, Any]] = []
        for product, level in zip(products, levels, strict=True):
            if isinstance(level, OmsError):
                rows.append({"product": product, "missing": refusal(level)})
            elif isinstance(level, BaseException):
                raise level
            else:
                rows.append(
                    {
                        "product": product,
                        "quantity": level.quantity,
                        "reserved": level.reserved,
                        "available": level.quantity - level.reserved,
                    }
                )
        return self.render(
            request, "stock.html", {"viewer": viewer, "rows": rows, "error": error, "notice": notice}, status
        )

    async def dead_letters(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return self.to_login(request)
        processor = request.query_params.get("processor", "").strip()
        token = request.query_params.get("page_token", "")
        context: dict[str, Any] = {"processor": processor, "letters": [], "counts": {}, "unreachable": [], "next": ""}
        context["paged"] = bool(token)
        context["first"] = f"/dead-letters?{urlencode({'processor': processor})}" if processor else "/dead-letters"
        try:
            found, next_token = await self.client(viewer).list_dead_letters_page(
                processor=processor or None, page_size=PAGE_SIZE, page_token=token
            )
        except OmsError as error:
            return self.failed(request, viewer, error, "dead_letters.html", context)
        context["letters"] = [dead_letter_row(entry) for entry in found]
        if next_token:
            shown = {"processor": processor} if processor else {}
            context["next"] = f"/dead-letters?{urlencode({**shown, 'page_token': next_token})}"
        if self.settings.metrics_urls:
            scrape = await metrics.scrape(self.settings.metrics_urls, time.monotonic())
            context["counts"], context["unreachable"] = metrics.dead_letters(scrape), scrape.unreachable
        return self.render(request, "dead_letters.html", {**context, "viewer": viewer})


def create_app(settings: ConsoleSettings) -> Starlette:
    console = Console(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await console.close()

    routes = [
        Route("/", console.home),
        Route("/login", console.login, methods=["GET", "POST"]),
        Route("/logout", console.logout, methods=["POST"]),
        Route("/orders", console.orders),
        Route("/orders/{order_id}", console.order),
        Route("/orders/{order_id}/{action:str}", console.order_action, methods=["POST"]),
        Route("/live", console.live),
        Route("/live/events", console.live_events),
        Route("/stock", console.stock, methods=["GET", "POST"]),
        Route("/dead-letters", console.dead_letters),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.console = console
    return app
