"""ListDeadLetters: the dead-letter lists the tables projector keeps (on a
real LevelDB view), and the handler's pages, tokens and access rules over
the in-memory ports. On the real broker: tests/e2e/test_workflow.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gateway.adapters.read_model import LevelDbReadModel
from gateway.adapters.tables import project_tables
from gateway.adapters.view import View
from gateway.app.access import Principal
from gateway.app.commands import ListDeadLetters
from gateway.app.errors import InvalidRequest, PermissionDenied, Unavailable
from gateway.app.handlers import App
from gateway.app.ports import DeadLetterCursor
from oms.deadletter.v1 import dead_letter_pb2
from streams.records import Record
from tests.support.fakes import AppScenario, InMemoryEventLog, InMemoryReadModel, run_app
from topology.topics import Topics

TOPICS = Topics()
ADMIN, ALICE = Principal("ops", admin=True), Principal("alice", customer_id=1)


def letter(processor: str, failed_ms: int, reason: str = "bad") -> bytes:
    dead = dead_letter_pb2.DeadLetter(
        source_topic=TOPICS.orders,
        source_partition=0,
        source_offset=7,
        value=b"\x01",
        reason=reason,
        processor=processor,
    )
    dead.failed_at.FromMilliseconds(failed_ms)
    return dead.SerializeToString()


def listed(entries: list) -> list[tuple[str, int, int, int]]:  # type: ignore[type-arg]
    return [(e.dead_letter.processor, e.dead_letter.failed_at.ToMilliseconds(), e.partition, e.offset) for e in entries]


def test_the_tables_list_dead_letters_newest_first_by_processor_and_after_a_cursor(tmp_path: Path) -> None:
    view = View(tmp_path / "view")
    reads = LevelDbReadModel(view, None, {}, None, lambda: True)  # type: ignore[arg-type]
    records = [
        Record(TOPICS.dead_letters, 0, 0, b"o1", letter("fraud-check", 1_000), 0),
        Record(TOPICS.dead_letters, 1, 0, b"o2", letter("fraud", 3_000), 0),
        Record(TOPICS.dead_letters, 0, 1, b"o3", letter("fraud-check", 2_000), 0),
        Record(TOPICS.dead_letters, 1, 1, b"o4", letter("fraud-check", 2_000), 0),
        # Not a dead letter (another writer's record): left out, nothing else lost.
        Record(TOPICS.dead_letters, 2, 0, b"x", b"\xff\xff", 0),
    ]
    try:
        view.apply(project_tables(records, TOPICS, view.get_raw), {(TOPICS.dead_letters, 0): 2})
        assert listed(reads.dead_letters_page("", None, 10)) == [
            ("fraud", 3_000, 1, 0),
            ("fraud-check", 2_000, 0, 1),
            ("fraud-check", 2_000, 1, 1),
            ("fraud-check", 1_000, 0, 0),
        ]
        # "fraud" is a prefix of "fraud-check": neither list holds the other's.
        assert listed(reads.dead_letters_page("fraud", None, 10)) == [("fraud", 3_000, 1, 0)]
        check = reads.dead_letters_page("fraud-check", None, 10)
        assert [e.dead_letter.reason for e in check] == ["bad"] * 3 and check[0].dead_letter.value == b"\x01"
        after = DeadLetterCursor(2_000, 0, 1)
        assert listed(reads.dead_letters_page("fraud-check", after, 10)) == [
            ("fraud-check", 2_000, 1, 1),
            ("fraud-check", 1_000, 0, 0),
        ]
        assert listed(reads.dead_letters_page("", after, 1)) == [("fraud-check", 2_000, 1, 1)]
        assert reads.dead_letters_page("inventory-check", None, 10) == []
    finally:
        view.close()


def run(scenario: AppScenario) -> None:
    run_app(scenario, TOPICS)


def test_an_admin_pages_through_every_dead_letter_and_a_token_serves_only_its_own_list() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        for n in range(5):
            await log.publish(TOPICS.dead_letters, f"o{n}".encode(), letter("fraud-check", 1_000 + n))
        await log.publish(TOPICS.dead_letters, b"e", letter("email-sender", 500))

        seen, token = [], ""
        while True:
            page = await app.dead_letters.list(ListDeadLetters("fraud-check", page_size=2, page_token=token), ADMIN)
            assert len(page.dead_letters) <= 2
            seen += [e.dead_letter.failed_at.ToMilliseconds() for e in page.dead_letters]
            token = page.next_page_token
            if not token:
                break
        assert seen == [1_004, 1_003, 1_002, 1_001, 1_000]

        every = await app.dead_letters.list(ListDeadLetters(), ADMIN)
        assert len(every.dead_letters) == 6 and not every.next_page_token

        first = await app.dead_letters.list(ListDeadLetters("fraud-check", page_size=1), ADMIN)
        with pytest.raises(InvalidRequest) as foreign:
            await app.dead_letters.list(ListDeadLetters("email-sender", page_token=first.next_page_token), ADMIN)
        assert foreign.value.violations[0].field == "page_token"
        with pytest.raises(InvalidRequest):
            await app.dead_letters.list(ListDeadLetters("fraud-check", page_token=first.next_page_token + "x"), ADMIN)

    run(scenario)


def test_only_admins_read_dead_letters_and_nothing_is_read_while_the_tables_stand_still() -> None:
    async def scenario(app: App, log: InMemoryEventLog, reads: InMemoryReadModel) -> None:
        await log.publish(TOPICS.dead_letters, b"o1", letter("fraud-check", 1_000, reason="customer 1's secret"))
        with pytest.raises(PermissionDenied) as denied:
            await app.dead_letters.list(ListDeadLetters(), ALICE)
        assert "secret" not in str(denied.value) and "oms:admin" in str(denied.value)

        reads.healthy = False
        with pytest.raises(Unavailable):
            await app.dead_letters.list(ListDeadLetters(), ADMIN)

    run(scenario)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (lambda: ListDeadLetters(page_size=-1), "page_size"),
        (lambda: ListDeadLetters(processor="p" * 101), "processor"),
    ],
)
def test_a_bad_list_request_names_its_field(query: Callable[[], ListDeadLetters], field: str) -> None:
    with pytest.raises(InvalidRequest) as bad:
        query()
    assert [v.field for v in bad.value.violations] == [field]
