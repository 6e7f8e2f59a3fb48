"""python -m aggregator"""

from streams.settings import Settings
from topology.registry import AGGREGATOR
from topology.service import run_processor

settings = Settings.from_env()
run_processor(AGGREGATOR.build(settings), settings)
