"""python -m routing"""

from streams.settings import Settings
from topology.registry import ROUTING
from topology.service import run_processor

settings = Settings.from_env()
run_processor(ROUTING.build(settings), settings)
