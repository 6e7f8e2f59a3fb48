"""Composition root of the email service: the join processor (unless the
pipeline runs it: OMS_LAYOUT=combined) and the sender, loops of one process."""

from __future__ import annotations

import logging
import threading
import time

from notifications.mailer import Mailer, SmtpMailer
from notifications.outbox import LevelDbSentLog
from notifications.sender import EmailSender
from streams.kafka import CommittingConsumer, Publisher
from streams.records import Record
from topology.config import Config
from topology.deadletters import DeadLetters
from topology.registry import EMAIL, SENDER_NAME, service
from topology.service import build_runner
from topology.topics import Topics

log = logging.getLogger(__name__)


def smtp_server(settings: Config) -> tuple[str, int]:
    """Where confirmation emails go: OMS_SMTP_HOST and OMS_SMTP_PORT, or localhost:25."""
    return settings.smtp_host or "localhost", settings.smtp_port or 25


class PublishedDeadLetters:
    """The sender's DeadLetterSink: one DeadLetter on `dead-letters`, waited for."""

    def __init__(self, publisher: Publisher, encode: DeadLetters, timeout_s: float = 30.0) -> None:
        self._publisher = publisher
        self._encode = encode
        self._timeout_s = timeout_s

    def __call__(self, record: Record, reason: str) -> None:
        letter = self._encode(record, reason, SENDER_NAME, int(time.time() * 1000))
        self._publisher.publish(letter.topic, letter.key or b"", letter.value).result(timeout=self._timeout_s)


def build_sender(settings: Config, mailer: Mailer | None = None) -> EmailSender:
    topics = Topics(settings.namespace)
    member = topics.group(f"{SENDER_NAME}-{settings.instance_id}")
    outbox = CommittingConsumer(
        settings.kafka,
        topics.group(SENDER_NAME),
        (topics.email_requests,),
        group_instance_id=member,
    )
    return EmailSender(
        outbox,
        LevelDbSentLog(settings.data_dir / "state" / member),
        mailer or SmtpMailer(*smtp_server(settings)),
        settings.mail_from,
        PublishedDeadLetters(Publisher(settings.kafka), DeadLetters(topics.dead_letters)),
        requests_topic=topics.email_requests,
    )


def run(settings: Config, stop: threading.Event) -> int:
    """Runs both loops until stopped (0) or until one of them fails (1)."""
    # In the combined layout the pipeline runs the join: this process only sends.
    joins = service(EMAIL, settings.layout).processors
    loops = [("email join", build_runner([spec.build(settings) for spec in joins], settings).run)] if joins else []
    sender = build_sender(settings)
    failed = threading.Event()

    def guarded(name: str, body: object) -> threading.Thread:
        def target() -> None:
            try:
                body(stop)  # type: ignore[operator]
            except Exception:
                log.exception("the %s failed", name)
                failed.set()
                stop.set()

        return threading.Thread(target=target, name=name)

    threads = [guarded(name, body) for name, body in [*loops, ("email sender", sender.run)]]
    for thread in threads:
        thread.start()
    log.info("email service up: mail goes to %s:%d", *smtp_server(settings))
    while not stop.wait(0.5):
        pass
    for thread in threads:
        thread.join()
    return 1 if failed.is_set() else 0
