"""python -m routing"""

from routing.bootstrap import build_routing
from routing.settings import RoutingSettings
from streams.service import run_processor
from streams.settings import Settings

settings = Settings.from_env()
run_processor(build_routing(settings, RoutingSettings.from_env()), settings)
