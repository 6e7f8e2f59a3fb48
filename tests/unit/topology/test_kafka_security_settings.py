"""The Kafka security settings: from the environment or a properties file,
merged into the one Connection every client takes, checked together, and
the password never shown."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from topology.config import Config, ConfigError

SCRAM = {
    "OMS_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
    "OMS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "OMS_KAFKA_SASL_USERNAME": "fraud-check",
    "OMS_KAFKA_SASL_PASSWORD": "s3cret-pw",
}


def test_the_security_variables_reach_the_connection_of_every_client() -> None:
    connection = Config.load(SCRAM).kafka

    assert connection.properties == {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "fraud-check",
        "sasl.password": "s3cret-pw",
    }


def test_protocol_and_mechanism_are_read_in_any_case() -> None:
    config = Config.load({**SCRAM, "OMS_KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "OMS_KAFKA_SASL_MECHANISM": "plain"})

    assert (config.kafka_security_protocol, config.kafka_sasl_mechanism) == ("SASL_SSL", "PLAIN")


def test_the_variables_win_over_the_config_file_and_merge_with_it(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    file = tmp_path / "client.properties"
    file.write_text("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=old\nclient.rack=r1\n")

    config = Config.load(
        {
            "OMS_KAFKA_CONFIG_FILE": str(file),
            "OMS_KAFKA_SASL_USERNAME": "new",
            "OMS_KAFKA_SASL_PASSWORD": "pw",
            "OMS_KAFKA_SSL_CA_LOCATION": str(ca),
        }
    )

    assert config.kafka.properties == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.username": "new",
        "sasl.password": "pw",
        "client.rack": "r1",
        "ssl.ca.location": str(ca),
    }


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        (
            {"OMS_KAFKA_SASL_MECHANISM": "PLAIN"},
            "SASL mechanism PLAIN needs OMS_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT",
        ),
        ({"OMS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "SASL_SSL needs OMS_KAFKA_SASL_MECHANISM"),
        (
            {"OMS_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "OMS_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"},
            "needs both OMS_KAFKA_SASL_USERNAME and OMS_KAFKA_SASL_PASSWORD",
        ),
        ({**SCRAM, "OMS_KAFKA_SASL_PASSWORD": ""}, "needs both OMS_KAFKA_SASL_USERNAME and OMS_KAFKA_SASL_PASSWORD"),
        ({"OMS_KAFKA_SASL_USERNAME": "u"}, "a SASL user or password needs OMS_KAFKA_SECURITY_PROTOCOL"),
        (
            {"OMS_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "OMS_KAFKA_SSL_CA_LOCATION": "/etc/hostname"},
            "OMS_KAFKA_SSL_CA_LOCATION needs OMS_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL",
        ),
        ({"OMS_KAFKA_SSL_CA_LOCATION": "/no/such/ca.pem"}, "OMS_KAFKA_SSL_CA_LOCATION='/no/such/ca.pem'"),
        ({"OMS_KAFKA_SECURITY_PROTOCOL": "TLS"}, "OMS_KAFKA_SECURITY_PROTOCOL='TLS' is not accepted"),
        ({**SCRAM, "OMS_KAFKA_SASL_MECHANISM": "GSSAPI"}, "OMS_KAFKA_SASL_MECHANISM='GSSAPI' is not accepted"),
    ],
)
def test_settings_that_do_not_fit_together_are_refused_clearly(environment: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as caught:
        Config.load(environment)

    assert "s3cret-pw" not in str(caught.value)


def test_a_combination_in_the_config_file_is_checked_too(tmp_path: Path) -> None:
    file = tmp_path / "client.properties"
    file.write_text("security.protocol=PLAINTEXT\nsasl.mechanism=PLAIN\n")

    with pytest.raises(ConfigError, match="SASL mechanism PLAIN needs"):
        Config.load({"OMS_KAFKA_CONFIG_FILE": str(file)})


def test_the_password_is_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    config = Config.load(SCRAM)
    logging.getLogger("test").info("settings: %s %r %s", config, config, config.kafka)

    for shown in (str(config), repr(config), repr(config.kafka), caplog.text, config.model_dump_json()):
        assert "s3cret-pw" not in shown


def test_a_bad_value_next_to_a_password_does_not_show_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        Config.load({**SCRAM, "OMS_PARTITIONS": "many"})

    assert "OMS_PARTITIONS='many'" in str(caught.value) and "s3cret-pw" not in str(caught.value)
