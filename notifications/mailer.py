"""Sending one email: the port, and its SMTP adapter."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Protocol


class SendFailed(Exception):
    """The email was not accepted.

    `permanent`: the server refused it for good (5xx); trying again will not help.
    `unreachable`: no conversation with the server (refused, timed out, cut):
    other emails would fail the same way just now.
    """

    def __init__(self, reason: str, permanent: bool = False, unreachable: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.unreachable = unreachable


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Returns once the server accepted the message; raises SendFailed."""
        ...


class SmtpMailer:
    """One SMTP connection per email: simple, and no state to go stale."""

    def __init__(self, host: str, port: int, timeout_s: float = 10.0) -> None:
        self.host = host
        self.port = port
        self.timeout_s = timeout_s

    def send(self, message: EmailMessage) -> None:
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"{exc.smtp_code} {exc.smtp_error!r}", unreachable=True) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"cannot reach {self.host}:{self.port}: {exc}", unreachable=True) from exc
        try:
            smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendFailed(f"recipients refused: {exc.recipients}", permanent=all(c >= 500 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"{exc.smtp_code} {exc.smtp_error!r}", permanent=exc.smtp_code >= 500) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"connection to {self.host}:{self.port} failed: {exc}", unreachable=True) from exc
        finally:
            # Accepted is accepted: a failing QUIT must not make it look unsent.
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            smtp.close()
