"""The domain's metrics: check outcomes and terminal orders counted from what
processors commit, placements and placed-to-terminal latency from the
gateway, and what the gateway's admission sheds. (Each service's metrics
port: `topology.registry.metrics_port`.)"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from google.protobuf.message import DecodeError

from oms.orders.v1 import events_pb2, order_pb2
from orders.codec import TERMINAL_STATES_PB
from streams.metrics import SECONDS, Metrics
from streams.records import Output
from topology.topics import Topics

log = logging.getLogger(__name__)


def enum_label(enum: object, value: int, prefix: str) -> str:
    """CHECK_RESULT_PASS -> "pass"; an unknown number -> its digits."""
    try:
        name = enum.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return str(value)
    return name.removeprefix(prefix).lower()


class OrderMetrics:
    """The order workflow's metrics, in a process's registry (`OrderMetrics.of`)."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # The order workflow, counted from what is produced
        self.validations = metrics.counter(
            "oms_validations", "Check outcomes produced, by check and result", "check", "result"
        )
        self.terminal = metrics.counter(
            "oms_orders_terminal", "Orders that reached a terminal state, by state", "state"
        )
        # The gateway
        self.orders_placed = metrics.counter("oms_orders_placed", "Orders placed (OrderPlaced events written)")
        self.order_latency = metrics.histogram(
            "oms_order_latency_seconds",
            "From placed_at to the terminal updated_at, as the view applies it",
            SECONDS,
            "state",
        )

    @classmethod
    def of(cls, metrics: Metrics) -> OrderMetrics:
        return metrics.extension("orders", cls)

    def counting(self, topics: Topics) -> Callable[[Sequence[Output]], None]:
        """A runner's on_committed hook that counts its outputs."""
        return lambda outputs: self.count_outputs(topics, outputs)

    def count_outputs(self, topics: Topics, outputs: Iterable[Output]) -> None:
        """Domain counters from committed outputs, wherever they are produced:
        check outcomes on `order-validations`, terminal events on `orders`."""
        # Tallied first: a labelled counter's child costs a lock and a lookup.
        outcomes: Counter[tuple[int, int]] = Counter()
        validations, orders = topics.order_validations, topics.orders
        for output in outputs:
            if not output.value:
                continue
            try:
                if output.topic == validations:
                    outcome = events_pb2.OrderValidation.FromString(output.value).outcome
                    outcomes[(outcome.check_type, outcome.result)] += 1
                elif output.topic == orders:
                    event = events_pb2.OrderEvent.FromString(output.value)
                    if event.WhichOneof("kind") != "placed" and event.order.state in TERMINAL_STATES_PB:
                        state = enum_label(order_pb2.OrderState, event.order.state, "ORDER_STATE_")
                        self.terminal.labels(state).inc()
                        log.debug("order %s", state, extra={"order_id": event.order_id})
            except DecodeError:
                continue
        for (check_type, result), count in outcomes.items():
            self.validations.labels(
                enum_label(order_pb2.CheckType, check_type, "CHECK_TYPE_"),
                enum_label(order_pb2.CheckResult, result, "CHECK_RESULT_"),
            ).inc(count)

    def observe_order(self, order: order_pb2.Order) -> None:
        """An order the view applied: its placed -> terminal latency, if terminal."""
        if order.state in TERMINAL_STATES_PB and order.HasField("placed_at") and order.HasField("updated_at"):
            seconds = (order.updated_at.ToNanoseconds() - order.placed_at.ToNanoseconds()) / 1e9
            self.order_latency.labels(enum_label(order_pb2.OrderState, order.state, "ORDER_STATE_")).observe(
                max(0.0, seconds)
            )


class AdmissionMetrics:
    """What the gateway sheds at its front door, and what it goes by."""

    def __init__(self, metrics: Metrics) -> None:
        self.shed = metrics.counter(
            "oms_calls_shed", "Calls answered RESOURCE_EXHAUSTED at once instead of served, by reason", "reason"
        )
        self.workflow_backlog = metrics.gauge(
            "oms_workflow_backlog",
            "Records of orders the order workflow has yet to read, as last measured (NaN: not known)",
        )
        self.loop_lag = metrics.gauge(
            "oms_gateway_loop_lag_seconds", "How late the gateway's event loop runs, smoothed"
        )

    @classmethod
    def of(cls, metrics: Metrics) -> AdmissionMetrics:
        return metrics.extension("admission", cls)

    def count_shed(self, reason: str) -> None:
        self.shed.labels(reason).inc()
