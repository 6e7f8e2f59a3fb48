"""python -m aggregator"""

from aggregator.bootstrap import build_aggregator
from streams.service import run_processor
from topology.config import load_or_exit

settings = load_or_exit()
run_processor(build_aggregator(settings), settings)
