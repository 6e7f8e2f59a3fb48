"""python -m notifications: the email join and the email sender."""

from notifications.bootstrap import run
from notifications.settings import EmailSettings
from streams.service import begin_service, create_topics, start_metrics, stop_on_signals
from streams.settings import Settings

begin_service("notifications")
settings = Settings.from_env()
start_metrics("notifications", settings)
create_topics(settings)
raise SystemExit(run(settings, EmailSettings.from_env(), stop_on_signals()))
