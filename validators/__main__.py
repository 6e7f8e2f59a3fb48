"""python -m validators {order-details|fraud|inventory}"""

import argparse

from streams.service import run_processor
from topology.config import load_or_exit
from validators.bootstrap import CHECKS, build_check

parser = argparse.ArgumentParser(prog="python -m validators", description=__doc__)
parser.add_argument("check", choices=sorted(CHECKS))
args = parser.parse_args()
settings = load_or_exit()
run_processor(build_check(args.check, settings), settings)
