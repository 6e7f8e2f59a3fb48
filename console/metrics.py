"""The live view's numbers, from the services' Prometheus endpoints: rates
from two scrapes, latency percentiles from the gateway's histogram, consumer
lag and dead letters per processor."""

from __future__ import annotations

import asyncio
import math
import urllib.request
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from prometheus_client.parser import text_string_to_metric_families

DEAD_LETTERS_TOPIC = "dead-letters"


@dataclass
class Sample:
    name: str
    labels: dict[str, str]
    value: float


@dataclass
class Scrape:
    """What every endpoint answered at one moment (`at`, seconds)."""

    at: float
    samples: list[Sample] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)

    def total(self, name: str, **match: str) -> float:
        return sum(s.value for s in self.samples if s.name == name and _matches(s.labels, match))

    def by(self, name: str, label: str) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for s in self.samples:
            if s.name == name and label in s.labels:
                out[s.labels[label]] += s.value
        return dict(out)


def _matches(labels: dict[str, str], match: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in match.items())


def parse(text: str) -> list[Sample]:
    return [
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _fetch(url: str, timeout_s: float) -> str:
    with urllib.request.urlopen(f"{url.rstrip('/')}/metrics", timeout=timeout_s) as reply:
        return str(reply.read().decode())


async def scrape(urls: Sequence[str], at: float, timeout_s: float = 1.0) -> Scrape:
    """Every endpoint at once; one that does not answer is listed, not fatal."""
    result = Scrape(at)
    texts = await asyncio.gather(*(asyncio.to_thread(_fetch, url, timeout_s) for url in urls), return_exceptions=True)
    for url, text in zip(urls, texts, strict=True):
        if isinstance(text, BaseException):
            result.unreachable.append(url)
        else:
            result.samples.extend(parse(text))
    return result


def percentile(buckets: Iterable[tuple[float, float]], q: float) -> float | None:
    """The q-quantile (0..1) of a cumulative histogram [(le, count)], by
    linear interpolation within the bucket (Prometheus' histogram_quantile);
    None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower_le, lower_count = 0.0, 0.0
    for le, count in ordered:
        if count >= rank:
            if math.isinf(le):
                return lower_le
            if count == lower_count:
                return le
            return lower_le + (le - lower_le) * (rank - lower_count) / (count - lower_count)
        lower_le, lower_count = le, count
    return ordered[-1][0]


def latency_buckets(scrape: Scrape, name: str = "oms_order_latency_seconds_bucket") -> list[tuple[float, float]]:
    """The histogram's cumulative buckets, summed over states and instances."""
    sums: dict[float, float] = defaultdict(float)
    for s in scrape.samples:
        if s.name == name:
            sums[float(s.labels["le"])] += s.value
    return sorted(sums.items())


def _rate(now: float, before: float | None, seconds: float) -> float:
    if before is None or seconds <= 0:
        return 0.0
    return max(0.0, now - before) / seconds


def recent_buckets(now: Scrape, then: Scrape | None) -> list[tuple[float, float]] | None:
    """The histogram of what was observed between two scrapes; None when
    nothing was (or the counters went back: a gateway restarted)."""
    if then is None:
        return None
    earlier = dict(latency_buckets(then))
    recent = [(le, count - earlier.get(le, 0.0)) for le, count in latency_buckets(now)]
    if not recent or recent[-1][1] <= 0 or any(count < 0 for _, count in recent):
        return None
    return recent


def summary(now: Scrape, before: Scrape | None, window: Scrape | None = None) -> dict[str, object]:
    """The live view's figures: flow per second, latency percentiles (of the
    orders decided since `window`, else since the gateways started), and per
    stage (processor) its rate, lag and dead letters."""
    seconds = now.at - before.at if before else 0.0
    placed = now.total("oms_orders_placed_total")
    decided = now.total("oms_orders_terminal_total", state="validated") + now.total(
        "oms_orders_terminal_total", state="failed"
    )
    placed_before = before.total("oms_orders_placed_total") if before else None
    decided_before = (
        before.total("oms_orders_terminal_total", state="validated")
        + before.total("oms_orders_terminal_total", state="failed")
        if before
        else None
    )
    recent = recent_buckets(now, window)
    buckets = recent if recent is not None else latency_buckets(now)
    processed = now.by("oms_records_processed_total", "processor")
    processed_before = before.by("oms_records_processed_total", "processor") if before else {}
    lag = now.by("oms_consumer_lag", "consumer")
    dead: dict[str, float] = defaultdict(float)
    for s in now.samples:
        if s.name == "oms_records_produced_total" and s.labels.get("topic", "").endswith(DEAD_LETTERS_TOPIC):
            dead[s.labels.get("processor", "?")] += s.value
    stages = [
        {
            "name": name,
            "rate": round(_rate(processed.get(name, 0.0), processed_before.get(name), seconds), 1),
            "lag": int(lag.get(name, 0.0)),
            "dead_letters": int(dead.get(name, 0.0)),
        }
        for name in sorted(set(processed) | set(lag) | set(dead))
    ]
    return {
        "placed_total": int(placed),
        "decided_total": int(decided),
        "placed_per_s": round(_rate(placed, placed_before, seconds), 1),
        "decided_per_s": round(_rate(decided, decided_before, seconds), 1),
        "latency_ms": {
            label: None if (value := percentile(buckets, q)) is None else round(value * 1000, 1)
            for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
        },
        "latency_over": "since start" if recent is None else f"last {round(now.at - window.at) if window else 0} s",
        "stages": stages,
        "unreachable": list(now.unreachable),
    }


def dead_letters(scrape: Scrape) -> dict[str, int]:
    """Dead letters written, per processor (the records its committed
    transactions produced to the dead-letters topic)."""
    out: dict[str, float] = dict.fromkeys(scrape.by("oms_records_processed_total", "processor"), 0.0)
    for s in scrape.samples:
        if s.name == "oms_records_produced_total" and s.labels.get("topic", "").endswith(DEAD_LETTERS_TOPIC):
            out[s.labels.get("processor", "?")] = out.get(s.labels.get("processor", "?"), 0.0) + s.value
    return {name: int(count) for name, count in sorted(out.items())}
