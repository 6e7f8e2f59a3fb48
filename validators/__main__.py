"""python -m validators {order-details|fraud|inventory}"""

import argparse

from streams.service import run_processor
from streams.settings import Settings
from validators.bootstrap import CHECKS, build_check

parser = argparse.ArgumentParser(prog="python -m validators", description=__doc__)
parser.add_argument("check", choices=sorted(CHECKS))
args = parser.parse_args()
settings = Settings.from_env()
run_processor(build_check(args.check, settings), settings)
