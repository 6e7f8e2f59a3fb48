"""The live view's figures from Prometheus text: rates between two scrapes,
latency percentiles from the histogram, lag and dead letters per stage."""

from __future__ import annotations

import pytest

from console.metrics import Scrape, dead_letters, parse, percentile, summary

GATEWAY = """
oms_orders_placed_total {placed}
oms_orders_terminal_total{{state="validated"}} {validated}
oms_orders_terminal_total{{state="failed"}} {failed}
oms_orders_terminal_total{{state="cancelled"}} 7
oms_order_latency_seconds_bucket{{state="validated",le="0.1"}} 50
oms_order_latency_seconds_bucket{{state="validated",le="0.5"}} 90
oms_order_latency_seconds_bucket{{state="validated",le="1.0"}} 100
oms_order_latency_seconds_bucket{{state="validated",le="+Inf"}} 100
"""

CHECK = """
oms_records_processed_total{{processor="inventory-check",topic="t.orders"}} {processed}
oms_records_produced_total{{processor="inventory-check",topic="t.dead-letters"}} 3
oms_records_produced_total{{processor="inventory-check",topic="t.order-validations"}} 40
oms_consumer_lag{{consumer="inventory-check",topic="t.orders",partition="0"}} 4
oms_consumer_lag{{consumer="inventory-check",topic="t.orders",partition="1"}} 5
"""


def scrape(at: float, placed: int, validated: int, failed: int, processed: int) -> Scrape:
    text = GATEWAY.format(placed=placed, validated=validated, failed=failed) + CHECK.format(processed=processed)
    return Scrape(at, parse(text))


def test_rates_are_the_counters_moves_per_second_between_two_scrapes() -> None:
    before = scrape(10.0, placed=100, validated=80, failed=10, processed=200)
    now = scrape(12.0, placed=110, validated=86, failed=12, processed=230)
    figures = summary(now, before)
    assert figures["placed_total"] == 110
    assert figures["decided_total"] == 98  # validated and failed, not cancelled
    assert figures["placed_per_s"] == 5.0
    assert figures["decided_per_s"] == 4.0
    assert figures["stages"] == [{"name": "inventory-check", "rate": 15.0, "lag": 9, "dead_letters": 3}]


def test_the_first_scrape_has_totals_but_no_rates() -> None:
    figures = summary(scrape(1.0, placed=5, validated=1, failed=1, processed=9), None)
    assert (figures["placed_total"], figures["placed_per_s"], figures["decided_per_s"]) == (5, 0.0, 0.0)


def test_percentiles_interpolate_within_the_bucket_like_histogram_quantile() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (float("inf"), 100.0)]
    assert percentile(buckets, 0.5) == pytest.approx(0.1)
    assert percentile(buckets, 0.7) == pytest.approx(0.3)
    assert percentile(buckets, 0.95) == pytest.approx(0.75)
    assert percentile([(0.1, 0.0), (float("inf"), 0.0)], 0.5) is None
    figures = summary(scrape(1.0, placed=1, validated=1, failed=0, processed=1), None)
    assert figures["latency_ms"] == {"p50": 100.0, "p95": 750.0, "p99": 950.0}


def test_dead_letters_are_what_each_processor_wrote_to_the_dead_letters_topic() -> None:
    assert dead_letters(scrape(1.0, placed=1, validated=1, failed=0, processed=1)) == {"inventory-check": 3}


def test_a_processor_without_dead_letters_is_listed_with_none() -> None:
    text = 'oms_records_processed_total{processor="fraud-check",topic="t.orders"} 5\n'
    assert dead_letters(Scrape(1.0, parse(text))) == {"fraud-check": 0}


def test_latency_percentiles_cover_the_window_when_orders_were_decided_in_it() -> None:
    then = Scrape(
        0.0,
        parse(
            'oms_order_latency_seconds_bucket{le="0.1"} 100\noms_order_latency_seconds_bucket{le="1.0"} 100\noms_order_latency_seconds_bucket{le="+Inf"} 100\n'
        ),
    )
    now = Scrape(
        60.0,
        parse(
            'oms_order_latency_seconds_bucket{le="0.1"} 100\noms_order_latency_seconds_bucket{le="1.0"} 110\noms_order_latency_seconds_bucket{le="+Inf"} 110\n'
        ),
    )
    # All of the window's ten were slow, though most orders ever were fast.
    figures = summary(now, then, then)
    assert figures["latency_over"] == "last 60 s"
    assert figures["latency_ms"]["p50"] == pytest.approx(550.0)  # type: ignore[index]
    # Nothing decided in the window: since the start.
    assert summary(now, now, now)["latency_over"] == "since start"
