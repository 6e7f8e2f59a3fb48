"""python -m notifications: the email join and the email sender."""

from notifications.bootstrap import run
from notifications.settings import EmailSettings
from streams.service import begin_service, stop_on_signals
from streams.settings import Settings
from topology.service import create_topics, start_metrics

begin_service("notifications")
settings = Settings.from_env()
start_metrics("notifications", settings)
create_topics(settings)
raise SystemExit(run(settings, EmailSettings.from_env(), stop_on_signals()))
