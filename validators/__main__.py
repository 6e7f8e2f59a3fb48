"""python -m validators {order-details|fraud|inventory}"""

import argparse

from topology.config import load_or_exit
from topology.registry import CHECKS
from topology.service import run_processor

parser = argparse.ArgumentParser(prog="python -m validators", description=__doc__)
parser.add_argument("check", choices=sorted(CHECKS))
args = parser.parse_args()
settings = load_or_exit()
run_processor(CHECKS[args.check].build(settings), settings)
