"""make run starts the console with every service instance's metrics endpoint."""

from __future__ import annotations

from launcher.__main__ import console_address, console_spec
from topology.config import Config


def test_the_console_reads_every_instance_s_metrics_and_its_address_is_in_the_ready_line() -> None:
    settings = Config.load({"OMS_INSTANCES": "2", "OMS_METRICS_PORT": "9400"})
    spec = console_spec(settings)
    assert tuple(spec.argv) == ("-m", "console")
    urls = spec.env["OMS_CONSOLE_METRICS"].split(",")
    assert "http://127.0.0.1:9400" in urls and "http://127.0.0.1:9410" in urls  # gateway-0, gateway-1
    assert len(urls) == len(set(urls))
    assert console_address(settings) == "localhost:8080"
    named = Config.load({"OMS_CONSOLE_METRICS": "http://metrics.example:1"})
    assert console_spec(named).env["OMS_CONSOLE_METRICS"] == "http://metrics.example:1"
