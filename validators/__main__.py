"""python -m validators {order-details|fraud|inventory}"""

import argparse

from topology.config import load_or_exit
from topology.registry import CHECKS, service
from topology.service import run_service

parser = argparse.ArgumentParser(prog="python -m validators", description=__doc__)
parser.add_argument("check", choices=sorted(CHECKS))
args = parser.parse_args()
run_service(service(args.check), load_or_exit())
