"""python -m notifications: the email join (unless the pipeline runs it) and the email sender."""

from notifications.bootstrap import run
from streams.service import stop_on_signals
from topology.config import load_or_exit
from topology.registry import service
from topology.service import begin, create_topics_or_exit, start_metrics

settings = load_or_exit()
begin("notifications", settings)
start_metrics("notifications", settings)
create_topics_or_exit(settings, service=service("notifications", settings.layout))
raise SystemExit(run(settings, stop_on_signals()))
