"""python -m routing"""

from routing.bootstrap import build_routing
from streams.service import run_processor
from topology.config import load_or_exit

settings = load_or_exit()
run_processor(build_routing(settings), settings)
