"""python -m notifications: the email join and the email sender."""

from notifications.bootstrap import run
from notifications.settings import EmailSettings
from streams.service import configure_logging, create_topics, die_with_parent, start_metrics, stop_on_signals
from streams.settings import Settings

die_with_parent()
configure_logging("notifications")
settings = Settings.from_env()
start_metrics("notifications", settings)
create_topics(settings)
raise SystemExit(run(settings, EmailSettings.from_env(), stop_on_signals()))
