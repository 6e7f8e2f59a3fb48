"""The one configuration model: typed, validated with clear errors, read once."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.supervisor import ServiceSpec, Supervisor
from topology.config import EX_CONFIG, Config, ConfigError, env_name, reference

REPO = Path(__file__).resolve().parents[3]
# Variables that are not the services': the SDK's and CLI's, and the tests' own.
# Client-side (SDK, CLI) and test variables.
NOT_SERVICE_SETTINGS = {
    "OMS_TARGET",
    "OMS_CHAOS_SEED",
    "OMS_TOKEN",
    "OMS_TLS_CA",
    "OMS_TLS_CLIENT_CERT",
    "OMS_TLS_CLIENT_KEY",
}


def test_defaults_and_derived_values() -> None:
    config = Config.load({})

    assert config.bootstrap_servers == "127.0.0.1:9092"
    assert config.own_peer_port == 50052
    assert config.topic_replication_factor == 1
    assert config.kafka_properties == {}


def test_each_variable_is_read_into_its_field() -> None:
    config = Config.load(
        {
            "OMS_KAFKA_BOOTSTRAP": "k1:9092,k2:9092",
            "OMS_PARTITIONS": "6",
            "OMS_BROKERS": "3",
            "OMS_GRPC_PORT": "6000",
            "OMS_INSTANCE_ID": "2",
            "OMS_LOG_LEVEL": "debug",
            "OMS_LOG_FORMAT": "JSON",
        }
    )

    assert config.bootstrap_servers == "k1:9092,k2:9092"
    assert config.partitions == 6
    assert config.topic_replication_factor == 3
    assert config.own_peer_port == 6003
    assert (config.log_level, config.log_format) == ("DEBUG", "json")


def test_arguments_win_over_the_environment() -> None:
    assert Config.load({"OMS_PARTITIONS": "6"}, partitions=2).partitions == 2


def test_unset_and_empty_are_the_default() -> None:
    assert Config.load({"OMS_KAFKA_BOOTSTRAP": "", "OMS_MAX_BATCH": ""}).max_batch == 5000


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("OMS_PARTITIONS", "six", "valid integer"),
        ("OMS_PARTITIONS", "0", "greater than or equal to 1"),
        ("OMS_GRPC_PORT", "70000", "less than or equal to 65535"),
        ("OMS_LOG_FORMAT", "xml", "'text' or 'json'"),
        ("OMS_NAMESPACE", "a b", "pattern"),
        ("OMS_KAFKA_CONFIG_FILE", "/no/such/file", "cannot read"),
    ],
)
def test_a_bad_value_names_the_variable_the_value_and_what_is_accepted(
    variable: str, value: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        Config.load({variable: value})

    message = str(raised.value)
    assert f"{variable}={value!r}" in message
    assert accepted in message


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        Config.load({"OMS_PARTITIONS": "x", "OMS_MAX_CALLS": "-1"})

    assert "OMS_PARTITIONS" in str(raised.value) and "OMS_MAX_CALLS" in str(raised.value)


def test_kafka_properties_come_from_the_config_file(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text(
        "# a comment\nsecurity.protocol = SASL_SSL\n\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=u\nsasl.password=p\n"
    )

    config = Config.load({"OMS_KAFKA_CONFIG_FILE": str(properties)})

    assert config.kafka_properties == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "u",
        "sasl.password": "p",
    }
    assert config.kafka.properties == config.kafka_properties
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_a_malformed_properties_file_is_a_configuration_error(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("security.protocol SASL_SSL\n")

    with pytest.raises(ConfigError, match=r"client\.properties:1: expected key=value"):
        Config.load({"OMS_KAFKA_CONFIG_FILE": str(properties)})


def test_a_service_with_a_bad_value_exits_with_ex_config_before_it_starts() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "aggregator"],
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{REPO}:{REPO / 'gen'}", "OMS_MAX_BATCH": "lots"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )

    assert run.returncode == EX_CONFIG
    assert "OMS_MAX_BATCH='lots' is not accepted" in run.stderr


def test_the_supervisor_does_not_restart_a_service_that_exits_on_a_configuration_error() -> None:
    env = {"PATH": "/usr/bin:/bin"}
    supervisor = Supervisor([ServiceSpec("misconfigured", ("-c", f"raise SystemExit({EX_CONFIG})"))], env)
    supervisor.start()
    try:
        for _ in range(50):
            supervisor.supervise_once()
            if supervisor.misconfigured:
                break
            subprocess.run(["sleep", "0.1"])
        supervisor.supervise_once()

        assert supervisor.misconfigured == ["misconfigured"]
        assert supervisor.pids() == {}
    finally:
        supervisor.stop()


def test_docs_configuration_md_is_generated_from_the_model() -> None:
    assert (REPO / "docs" / "configuration.md").read_text() == reference()


def test_every_variable_the_code_names_is_a_setting() -> None:
    """(tests/unit/docs/test_docs.py checks the docs.)"""
    known = {env_name(field) for field in Config.model_fields} | NOT_SERVICE_SETTINGS
    named = set()
    for path in REPO.glob("*/**/*.py"):
        if {".venv", "_gen", "tests"} & set(path.relative_to(REPO).parts):
            continue
        named |= set(re.findall(r"\bOMS_[A-Z_]*[A-Z]\b", path.read_text()))

    assert named - known == set()


def test_make_run_exposes_nothing_beyond_loopback_unless_told() -> None:
    config = Config.load({})
    assert (config.grpc_host, config.peer_host, config.metrics_host, config.console_host) == ("127.0.0.1",) * 4

    exposed = Config.load({"OMS_GRPC_HOST": "0.0.0.0"})
    assert exposed.grpc_host == "0.0.0.0" and exposed.peer_host == "127.0.0.1"
