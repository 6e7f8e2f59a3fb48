"""python -m notifications: the email join (unless the pipeline runs it) and the email sender."""

from notifications.bootstrap import run
from streams.service import stop_on_signals
from topology.config import load_or_exit
from topology.registry import service
from topology.service import begin, create_topics_or_exit, refuse_the_other_layouts_namespace, start_metrics

settings = load_or_exit()
begin("notifications", settings)
start_metrics("notifications", settings)
email = service("notifications", settings.layout)
create_topics_or_exit(settings, service=email)
refuse_the_other_layouts_namespace(email, settings)
raise SystemExit(run(settings, stop_on_signals()))
