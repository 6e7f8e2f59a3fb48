"""python -m aggregator"""

from aggregator.bootstrap import build_aggregator
from streams.service import run_processor
from streams.settings import Settings

settings = Settings.from_env()
run_processor(build_aggregator(settings), settings)
