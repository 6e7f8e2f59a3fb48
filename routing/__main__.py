"""python -m routing"""

from topology.config import load_or_exit
from topology.registry import ROUTING
from topology.service import run_processor

settings = load_or_exit()
run_processor(ROUTING.build(settings), settings)
