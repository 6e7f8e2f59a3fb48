"""The fraud check written on quixstreams 3.x, drained like bench.stages
drains ours (the quix phase: `python -m bench --only quix`).

This script runs in its own venv (bench/out/quix-venv, from
bench/quix-requirements.txt), never the project's: it imports quixstreams
and the project's generated protobuf modules, nothing else of oms. Like our
FraudProcessor it reads OrderPlaced events, re-keys each as a FraudCandidate
by customer through a repartition topic (`group_by`), keeps every
customer's sessions in its state store (RocksDB with a changelog topic),
and writes one OrderValidation per order, all with exactly-once.

Timed as bench.stages times ours: from the first record handed to the
dataframe to the commit of the transaction holding the last validation.
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

# The same generated event classes our check decodes with (the venv has no oms).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "gen"))

from oms.orders.v1 import events_pb2, order_pb2
from oms.validation.v1 import state_pb2

# The rule of validators/fraud.py (tests/unit/bench/test_quix_fraud.py keeps the two equal).
FRAUD_LIMIT = 2000.0
SESSION_GAP_MS = 60 * 60 * 1000
SESSION_GRACE_MS = SESSION_GAP_MS

Session = list  # [start_ms, end_ms, total]: what quix's JSON state holds


def check_fraud(
    sessions: list[Session], customer_id: int, amount: float, at_ms: int
) -> tuple[str | None, list[Session]]:
    """validators.fraud.check_fraud on plain lists: the reason the order
    fails (None if it passes) and the customer's sessions after it."""
    counted = amount if math.isfinite(amount) and amount > 0 else 0.0
    joined = [s for s in sessions if s[0] - SESSION_GAP_MS <= at_ms <= s[1] + SESSION_GAP_MS]
    merged = [
        min([at_ms, *(s[0] for s in joined)]),
        max([at_ms, *(s[1] for s in joined)]),
        sum(s[2] for s in joined) + counted,
    ]
    latest = max([merged[1], *(s[1] for s in sessions)])
    kept = [s for s in sessions if s not in joined and s[1] + SESSION_GAP_MS + SESSION_GRACE_MS >= latest]
    after = sorted([*kept, merged], key=lambda s: s[0])
    if merged[2] >= FRAUD_LIMIT:
        return f"customer {customer_id} spent {merged[2]:.2f} in one session; the limit is {FRAUD_LIMIT:.0f}", after
    return None, after


def validation(order_id: str, reason: str | None) -> events_pb2.OrderValidation:
    result = order_pb2.CHECK_RESULT_PASS if reason is None else order_pb2.CHECK_RESULT_FAIL
    outcome = order_pb2.CheckOutcome(check_type=order_pb2.CHECK_TYPE_FRAUD, result=result, reason=reason or "")
    return events_pb2.OrderValidation(order_id=order_id, outcome=outcome)


class Drain:
    """What bench.stages' CountingProcessor notes of ours: when the first
    record came, when the last order was answered, when that was committed."""

    def __init__(self, orders: int) -> None:
        self.orders = orders
        self.records = 0
        self.answered = 0
        self.commits = 0
        self.first_at: float | None = None
        self.all_seen_at: float | None = None
        self.done_at: float | None = None

    def saw_record(self) -> None:
        if self.first_at is None:
            self.first_at = time.monotonic()
        self.records += 1

    def committed(self) -> None:
        self.commits += 1
        if self.all_seen_at is not None and self.done_at is None:
            self.done_at = time.monotonic()


def peak_rss_mib() -> float | None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    return None


def run(args: argparse.Namespace) -> dict:
    import quixstreams
    from quixstreams import Application
    from quixstreams.internal_producer import InternalProducer
    from quixstreams.models.serializers.protobuf import ProtobufDeserializer, ProtobufSerializer

    drain = Drain(args.orders)
    # quixstreams has no hook for "a checkpoint committed": wrap the call
    # that commits its Kafka transaction (the moment ours is timed at).
    commit_transaction = InternalProducer.commit_transaction

    def timed_commit(self: InternalProducer, *a: object, **kw: object) -> None:
        commit_transaction(self, *a, **kw)
        drain.committed()

    InternalProducer.commit_transaction = timed_commit  # type: ignore[method-assign]

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.consumer_group,
        processing_guarantee="exactly-once",
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        commit_interval=args.commit_interval,
        loglevel="WARNING",
    )
    orders = app.topic(
        args.orders_topic,
        key_deserializer="bytes",
        value_deserializer=ProtobufDeserializer(events_pb2.OrderEvent, to_dict=False),
    )
    validations = app.topic(
        args.validations_topic,
        key_serializer="str",
        value_serializer=ProtobufSerializer(events_pb2.OrderValidation),
    )

    def placed(event: events_pb2.OrderEvent) -> bool:
        drain.saw_record()
        return event.WhichOneof("kind") == "placed"

    def candidate(event: events_pb2.OrderEvent) -> state_pb2.FraudCandidate:
        order = event.order
        return state_pb2.FraudCandidate(
            order_id=order.order_id,
            customer_id=order.customer_id,
            amount=order.quantity * order.price,
            placed_at=order.placed_at,
        )

    def check(candidate: state_pb2.FraudCandidate, state) -> list[events_pb2.OrderValidation]:  # type: ignore[no-untyped-def]
        drain.saw_record()
        # One key per counted order, as ours keeps: a redelivered order is
        # neither counted nor answered twice. (Ours also forgets the keys of
        # a forgotten session; quix's State has no scan to find them, and no
        # session of this benchmark is ever forgotten.)
        counted = f"counted:{candidate.order_id}"
        if state.exists(counted):
            return []
        at_ms = candidate.placed_at.ToMilliseconds()
        reason, after = check_fraud(state.get("sessions", []), candidate.customer_id, candidate.amount, at_ms)
        state.set(counted, at_ms)
        state.set("sessions", after)
        drain.answered += 1
        if drain.answered == drain.orders:
            drain.all_seen_at = time.monotonic()
            # Ours commits the batch that holds its last record at once;
            # quix would wait out its commit interval: stopping commits now.
            app.stop()
        return [validation(candidate.order_id, reason)]

    sdf = app.dataframe(orders)
    sdf = sdf.filter(placed).apply(candidate)
    sdf = sdf.group_by(
        lambda c: str(c.customer_id),
        name="customer",
        key_serializer="str",
        key_deserializer="str",
        value_serializer=ProtobufSerializer(state_pb2.FraudCandidate),
        value_deserializer=ProtobufDeserializer(state_pb2.FraudCandidate, to_dict=False),
    )
    sdf = sdf.apply(check, stateful=True, expand=True)
    sdf.to_topic(validations, key=lambda v: v.order_id)

    started = time.monotonic()
    # Out of time: stop, and report what was done so far.
    watchdog = threading.Timer(args.timeout, app.stop)
    watchdog.daemon = True
    watchdog.start()
    app.run()
    watchdog.cancel()
    if drain.first_at is None:
        raise SystemExit(f"quix saw no record within {args.timeout}s")
    drained = drain.done_at is not None
    done_at = drain.done_at if drained else time.monotonic()
    seconds = done_at - drain.first_at
    return {
        "stage": "fraud (quixstreams)",
        "drained": drained,
        "orders": args.orders,
        "orders_done": drain.answered,
        "orders_per_s": round(drain.answered / seconds, 1),
        "records": drain.records,
        "seconds": round(seconds, 3),
        "records_per_s": round(drain.records / seconds, 1),
        "startup_s": round(drain.first_at - started, 2),
        "committed_batches": drain.commits,
        "commit_interval_s": args.commit_interval,
        "peak_rss_mib": peak_rss_mib(),
        "quixstreams": quixstreams.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--orders-topic", required=True)
    parser.add_argument("--validations-topic", required=True)
    parser.add_argument("--consumer-group", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--orders", required=True, type=int, help="OrderPlaced records pre-filled")
    parser.add_argument("--commit-interval", type=float, default=5.0, help="seconds (quixstreams' default: 5)")
    parser.add_argument("--timeout", type=float, default=1800)
    print(json.dumps(run(parser.parse_args())), flush=True)


if __name__ == "__main__":
    main()
