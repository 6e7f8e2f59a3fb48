"""python -m pipeline"""

from topology.config import load_or_exit
from topology.registry import PIPELINE, service
from topology.service import run_service

run_service(service(PIPELINE), load_or_exit())
