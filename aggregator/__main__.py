"""python -m aggregator"""

from topology.config import load_or_exit
from topology.registry import AGGREGATOR
from topology.service import run_processor

settings = load_or_exit()
run_processor(AGGREGATOR.build(settings), settings)
