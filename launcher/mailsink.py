"""A local SMTP server that accepts every email and shows it: what `make
run` sends confirmation emails to when no OMS_SMTP_HOST is configured. The
tests use it as their real SMTP server, too."""

from __future__ import annotations

import email
import logging
import socket
import threading
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)


def _as_bytes(content: bytes | str | None) -> bytes:
    return content.encode() if isinstance(content, str) else content or b""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def show(message: EmailMessage) -> None:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    print(
        f"\n----- email to {message['To']} -----\n"
        f"Subject: {message['Subject']}\nMessage-ID: {message['Message-ID']}\n\n{text.rstrip()}\n"
        "-----\n",
        flush=True,
    )


class MailSink:
    """Keeps every accepted email; while `refusing`, answers `refusal`
    (by default 451: try again later)."""

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, on_message: Callable[[EmailMessage], None] | None = None
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.messages: list[EmailMessage] = []
        self.refused = 0
        self.refusing = False
        self.refusal = "451 4.3.0 Not now, try again later"
        self._on_message = on_message
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname=host, port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.refusing:
            with self._lock:
                self.refused += 1
            return self.refusal
        message = email.message_from_bytes(_as_bytes(envelope.content), policy=default)
        with self._lock:
            self.messages.append(message)
        if self._on_message is not None:
            self._on_message(message)
        return "250 2.0.0 OK"

    def with_message_id(self, message_id: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["Message-ID"] == message_id]

    def start(self) -> MailSink:
        # aiosmtpd logs every connection at INFO; the emails themselves are what matter.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        self._controller.start()
        log.info("mail sink listening on %s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        self._controller.stop()
