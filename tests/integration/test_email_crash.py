"""A real kill -9 of the email sender between SMTP acceptance and the sent-log
write, against a real SMTP server: the restarted sender does not send the
email again (exactly one at the server) and dead-letters it as uncertain."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.mailsink import MailSink
from notifications.message import email_id, message_id

# One sender process: reads one request from an in-memory outbox, sends it over
# SMTP, and (when told) dies by SIGKILL the moment the server has accepted it.
SENDER = """
import json, os, signal, sys
from pathlib import Path
from notifications.mailer import SmtpMailer
from notifications.outbox import LevelDbSentLog
from notifications.sender import EmailSender
from oms.notifications.v1 import email_pb2
from streams.records import Record

host, port, state, order_id, crash = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"

class Log(LevelDbSentLog):
    def mark_sent(self, email_id):
        if crash:
            os.kill(os.getpid(), signal.SIGKILL)
        super().mark_sent(email_id)

class Outbox:
    def __init__(self):
        request = email_pb2.EmailRequested(email_id="order-confirmation/" + order_id, order_id=order_id)
        request.customer.email = "jo@example.com"
        self.records = [Record("email-requests", 0, 41, order_id.encode(), request.SerializeToString(), 0)]
    def poll(self, max_records, timeout_s):
        records, self.records = self.records, []
        return records
    def commit(self, offsets):
        pass
    def close(self):
        pass

letters = []
sender = EmailSender(Outbox(), Log(state), SmtpMailer(host, port), "shop@example.com",
                     lambda record, reason: letters.append([record.offset, reason]))
sender.step()
print(json.dumps(letters))
"""


@pytest.fixture()
def sink() -> Iterator[MailSink]:
    running = MailSink().start()
    yield running
    running.stop()


def run_sender(sink: MailSink, state: Path, crash: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    args = [sink.host, str(sink.port), str(state), "o-crash", "1" if crash else "0"]
    return subprocess.run(
        [sys.executable, "-c", SENDER, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_kill_9_between_smtp_acceptance_and_the_sent_log_write_yields_exactly_one_email(
    sink: MailSink, tmp_path: Path
) -> None:
    crashed = run_sender(sink, tmp_path / "sent", crash=True)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert len(sink.with_message_id(message_id(email_id("o-crash")))) == 1

    restarts = [run_sender(sink, tmp_path / "sent", crash=False) for _ in range(2)]

    assert [r.returncode for r in restarts] == [0, 0], restarts[0].stderr
    assert len(sink.with_message_id(message_id(email_id("o-crash")))) == 1
    assert len(sink.messages) == 1
    (first_letter,) = json.loads(restarts[0].stdout)
    assert first_letter[0] == 41 and "uncertain" in first_letter[1]
    assert json.loads(restarts[1].stdout) == []  # settled: neither sent nor dead-lettered again
