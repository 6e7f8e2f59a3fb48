"""The SMTP adapter against a real SMTP server (aiosmtpd) on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from launcher.mailsink import MailSink, free_port
from notifications.mailer import SendFailed, SmtpMailer


@pytest.fixture()
def sink() -> Iterator[MailSink]:
    running = MailSink().start()
    yield running
    running.stop()


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"], mail["Message-ID"] = "a@example.com", "b@example.com", "hi", "<x@oms>"
    mail.set_content("hello")
    return mail


def test_an_accepted_email_arrives(sink: MailSink) -> None:
    SmtpMailer(sink.host, sink.port).send(message())

    (received,) = sink.messages
    assert received["Message-ID"] == "<x@oms>" and received.get_content().strip() == "hello"


def test_a_temporary_refusal_is_neither_permanent_nor_unreachable(sink: MailSink) -> None:
    sink.refusing = True

    with pytest.raises(SendFailed) as failed:
        SmtpMailer(sink.host, sink.port).send(message())

    assert not failed.value.permanent and not failed.value.unreachable and "451" in str(failed.value)
    assert sink.messages == []


def test_a_5xx_refusal_is_permanent(sink: MailSink) -> None:
    sink.refusing, sink.refusal = True, "550 5.1.1 No such user"

    with pytest.raises(SendFailed) as failed:
        SmtpMailer(sink.host, sink.port).send(message())

    assert failed.value.permanent and "550" in str(failed.value)


def test_no_server_is_unreachable() -> None:
    with pytest.raises(SendFailed) as failed:
        SmtpMailer("127.0.0.1", free_port(), timeout_s=2).send(message())

    assert failed.value.unreachable and not failed.value.permanent
