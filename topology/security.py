"""Each kind of service as its own Kafka user, with least privilege.

On a broker that serves SASL/SCRAM with ACLs (`OMS_KAFKA_SASL=1`), whoever
starts the services (the launcher, a test's platform) does so as the admin:
it creates one SCRAM user per kind of service with a fresh random password,
grants it the ACLs of its permissions (topology.registry), and hands each
process its own credentials in its environment.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from pydantic import SecretStr

from streams.kafka import grant, set_scram_users
from topology.config import Config, env_name
from topology.registry import services

MECHANISM = "SCRAM-SHA-512"


def as_admin(settings: Config, bootstrap: str, properties: Mapping[str, str]) -> Config:
    """The settings, reaching the cluster as the user of the given client
    properties (the local broker's admin)."""
    return settings.model_copy(
        update={
            "kafka_bootstrap": bootstrap,
            "kafka_security_protocol": properties["security.protocol"],
            "kafka_sasl_mechanism": properties["sasl.mechanism"],
            "kafka_sasl_username": properties["sasl.username"],
            "kafka_sasl_password": SecretStr(properties["sasl.password"]),
        }
    )


def provision_service_users(admin: Config) -> dict[str, dict[str, str]]:
    """Creates (or gives a new password to) the user of every service of the
    layout (OMS_LAYOUT) and grants its ACLs; returns the environment each
    service (by name) runs with."""
    running = services(admin.layout)
    passwords = {service.user(admin): secrets.token_urlsafe(24) for service in running}
    set_scram_users(admin.kafka, passwords)
    for service in running:
        grant(admin.kafka, service.user(admin), service.permissions(admin))
    return {
        service.name: {
            env_name("kafka_security_protocol"): "SASL_PLAINTEXT",
            env_name("kafka_sasl_mechanism"): MECHANISM,
            env_name("kafka_sasl_username"): service.user(admin),
            env_name("kafka_sasl_password"): passwords[service.user(admin)],
        }
        for service in running
    }
