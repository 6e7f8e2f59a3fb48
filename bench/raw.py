"""The limit: the raw broker and client, with records of an order event's size.

- produce: an idempotent acks=all producer (the gateway's settings) writes N records;
- consume: a read_committed consumer drains them;
- txloop: a bare transactional consume-produce loop, batch by batch as
  streams.runner does it (poll, begin, produce, send offsets, commit), with
  no decoding, state or processing at all.

Each runs as a subprocess (`python -m bench.raw`) so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from bench import workload
from bench.common import CpuWatch, Log, loadavg, memory_mib, run_json
from streams.kafka import ensure_topics
from streams.topics import TopicSpec


def produce(bootstrap: str, topic: str, count: int) -> dict:
    events = workload.PlacedEvents()
    now_ms = int(time.time() * 1000)
    records = [events.event(i, now_ms) for i in range(count)]
    out = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "partitioner": "murmur2_random",
            "linger.ms": 5,
        }
    )
    # The connection and the idempotent producer id first, outside the clock.
    out.produce(topic + "-warmup", b"warmup")
    out.flush(60)
    started = time.monotonic()
    for key, value in records:
        workload.produce_one(out, topic, key, value)
    left = out.flush(120)
    seconds = time.monotonic() - started
    if left:
        raise SystemExit(f"{left} records not delivered")
    size = len(records[0][1])
    return {
        "records": count,
        "record_bytes": size,
        "seconds": round(seconds, 3),
        "records_per_s": round(count / seconds, 1),
    }


def consume(bootstrap: str, topic: str, count: int, partitions: int) -> dict:
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-raw-{uuid.uuid4().hex}",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    for partition in range(partitions):  # connects, outside the clock
        reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=30)
    reader.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    seen = 0
    started = time.monotonic()
    deadline = time.monotonic() + 600
    while seen < count and time.monotonic() < deadline:
        for message in reader.consume(num_messages=10_000, timeout=1.0):
            if message.error() is None:
                seen += 1
    seconds = time.monotonic() - started
    reader.close()
    if seen < count:
        raise SystemExit(f"read {seen} of {count}")
    return {"records": count, "seconds": round(seconds, 3), "records_per_s": round(count / seconds, 1)}


def txloop(bootstrap: str, source: str, sink: str, count: int, max_batch: int = 1000, interval_s: float = 0.02) -> dict:
    """The runner's transaction pattern with nothing inside it."""
    group = f"bench-tx-{uuid.uuid4().hex}"
    reader = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 10,
        }
    )
    writer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "partitioner": "murmur2_random",
            "transactional.id": group,
        }
    )
    writer.init_transactions(60)
    reader.subscribe([source])
    seen = batches = 0
    started = None
    deadline = time.monotonic() + 600
    while seen < count and time.monotonic() < deadline:
        first = reader.poll(interval_s)
        if first is None:
            continue
        messages = [first, *reader.consume(num_messages=max_batch - 1, timeout=0)]
        if started is None:
            started = time.monotonic()
        writer.begin_transaction()
        following: dict[tuple[str, int], int] = {}
        for message in messages:
            if message.error() is not None:
                if message.error().code() != KafkaError._PARTITION_EOF:
                    raise SystemExit(str(message.error()))
                continue
            writer.produce(sink, message.value(), message.key())
            following[(message.topic(), message.partition())] = message.offset() + 1
            seen += 1
        writer.send_offsets_to_transaction(
            [TopicPartition(t, p, o) for (t, p), o in following.items()], reader.consumer_group_metadata(), 60
        )
        writer.commit_transaction(60)
        batches += 1
    seconds = time.monotonic() - (started or time.monotonic())
    reader.close()
    if seen < count:
        raise SystemExit(f"transformed {seen} of {count}")
    return {
        "records": count,
        "seconds": round(seconds, 3),
        "records_per_s": round(count / seconds, 1),
        "batches": batches,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.raw")
    parser.add_argument("mode", choices=("produce", "consume", "txloop"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--sink")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=1000)
    args = parser.parse_args()
    if args.mode == "produce":
        result = produce(args.bootstrap, args.topic, args.count)
    elif args.mode == "consume":
        result = consume(args.bootstrap, args.topic, args.count, args.partitions)
    else:
        result = txloop(args.bootstrap, args.topic, args.sink, args.count, args.max_batch)
    print(json.dumps(result | memory_mib()), flush=True)


def run_raw(bootstrap: str, count: int, log: Log, partitions: int = 3) -> dict[str, dict]:
    """The three baselines, one after the other, on fresh topics."""
    run = uuid.uuid4().hex[:8]
    source, sink = f"bench-raw-{run}", f"bench-raw-{run}-out"
    ensure_topics(bootstrap, [TopicSpec(source), TopicSpec(f"{source}-warmup"), TopicSpec(sink)], partitions, 1)
    common = ["--bootstrap", bootstrap, "--topic", source, "--count", str(count), "--partitions", str(partitions)]
    # A fresh broker runs its transaction code cold (the JVM has not compiled
    # it yet): one unrecorded round of each first.
    warm = f"bench-raw-{run}-warm"
    ensure_topics(bootstrap, [TopicSpec(warm), TopicSpec(f"{warm}-warmup"), TopicSpec(f"{warm}-out")], partitions, 1)
    warm_args = [
        "--bootstrap",
        bootstrap,
        "--topic",
        warm,
        "--count",
        str(min(count, 20_000)),
        "--partitions",
        str(partitions),
    ]
    run_json(["-m", "bench.raw", "produce", *warm_args], timeout_s=900)
    run_json(["-m", "bench.raw", "txloop", *warm_args, "--sink", f"{warm}-out"], timeout_s=900)
    results = {}
    runs = (
        ("produce", "produce", []),
        ("consume", "consume", []),
        ("txloop", "txloop", ["--sink", sink]),
        # The same loop with ten times the batch: what the per-transaction cost is.
        ("txloop-10000", "txloop", ["--sink", sink, "--max-batch", "10000"]),
    )
    for name, mode, extra in runs:
        load = loadavg()
        with CpuWatch() as cpu:
            result = run_json(["-m", "bench.raw", mode, *common, *extra], timeout_s=900)
        results[name] = result | {"loadavg": round(load, 2), **cpu.summary()}
        log(f"raw {name}: {result['records_per_s']:.0f} records/s, load {load:.2f}")
    return results


if __name__ == "__main__":
    main()
