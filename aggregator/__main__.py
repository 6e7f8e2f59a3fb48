"""python -m aggregator"""

from topology.config import load_or_exit
from topology.registry import service
from topology.service import run_service

run_service(service("aggregator"), load_or_exit())
