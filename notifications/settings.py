"""Settings of the email service: class defaults, then environment."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


@dataclass(frozen=True)
class EmailSettings:
    smtp_host: str = "localhost"
    smtp_port: int = 25
    # An order and its payment join when their times are at most this far apart.
    payment_window_ms: int = 60_000
    mail_from: str = "orders@oms.localhost"

    @classmethod
    def from_env(cls) -> EmailSettings:
        return cls(
            smtp_host=os.environ.get("OMS_SMTP_HOST") or cls.smtp_host,
            smtp_port=_env_int("OMS_SMTP_PORT", cls.smtp_port),
            payment_window_ms=_env_int("OMS_PAYMENT_WINDOW_MS", cls.payment_window_ms),
            mail_from=os.environ.get("OMS_MAIL_FROM") or cls.mail_from,
        )
