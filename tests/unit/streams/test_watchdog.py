"""The watchdog that ends a process whose librdkafka call blocks past its timeout."""

from __future__ import annotations

import threading
import time

from streams.kafka import Watchdog


def test_a_call_that_outlives_its_limit_is_reported_once() -> None:
    stuck: list[str] = []
    reported = threading.Event()

    def on_stuck(what: str) -> None:
        stuck.append(what)
        reported.set()

    watchdog = Watchdog(on_stuck, check_every_s=0.01)
    with watchdog.guarding("send_offsets_to_transaction", within_s=0.05):
        assert reported.wait(timeout=5), "the watchdog never noticed the blocked call"
        time.sleep(0.1)  # it reports once, then stops watching
    watchdog.close()
    assert stuck == ["send_offsets_to_transaction"]


def test_calls_that_return_in_time_are_left_alone() -> None:
    stuck: list[str] = []
    watchdog = Watchdog(stuck.append, check_every_s=0.01)
    for _ in range(5):
        with watchdog.guarding("commit_transaction", within_s=0.05):
            pass
    time.sleep(0.3)  # long past every limit, with nothing guarded any more
    watchdog.close()
    assert stuck == []
