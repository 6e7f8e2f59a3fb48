"""The one configuration model of oms: every `OMS_*` variable, typed.

Each process reads it once, at its entry point (`load_or_exit`), and hands it
down; nothing else reads the environment for settings. Fields mirror the
variables one to one (`OMS_GRPC_PORT` is `grpc_port`), so each variable is
parsed one way; values derived from several of them are properties.

A bad value names the variable, the value and what is accepted, and the
process exits with status 78 (EX_CONFIG), which the supervisor does not
restart. `python -m topology.config` prints the reference table that
docs/configuration.md holds (a test keeps the two equal).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, FilePath, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from streams.kafka import Connection

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "OMS_"
# sysexits.h: a configuration error. The supervisor does not restart it.
EX_CONFIG = 78

Port = Annotated[int, Field(ge=1, le=65535)]
PortOrAny = Annotated[int, Field(ge=0, le=65535)]
Milliseconds = Annotated[int, Field(ge=0, le=24 * 60 * 60 * 1000)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]*$", max_length=64)]

# The environment `load` reads instead of os.environ, when given one.
_environ: ContextVar[Mapping[str, str] | None] = ContextVar("oms_environ", default=None)


class _Environment(EnvSettingsSource):
    """The environment source, reading a given mapping where `load` has one
    (a test's platform describes the services' environment without setting it)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        environ = _environ.get()
        if environ is None:
            return super()._load_env_vars()
        return parse_env_vars(environ, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def _section(name: str) -> dict[str, Any]:
    return {"section": name}


class Config(BaseSettings):
    """Everything a process of oms needs to know about its surroundings."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, frozen=True, extra="forbid", env_ignore_empty=True, case_sensitive=False
    )

    # Kafka
    kafka_bootstrap: str | None = Field(
        None,
        description="an existing cluster's bootstrap servers: nothing is installed or started, that cluster is used",
        json_schema_extra={**_section("Kafka"), "default_text": "unset: the project's own broker"},
    )
    kafka_port: Port = Field(
        9092,
        description="the local broker's port (its controller takes the next one)",
        json_schema_extra=_section("Kafka"),
    )
    brokers: int = Field(
        1,
        ge=1,
        le=9,
        description="brokers of the local Kafka cluster (3 gives a 3-voter KRaft quorum)",
        json_schema_extra=_section("Kafka"),
    )
    kafka_version: str = Field(
        "4.1.1",
        pattern=r"^\d+\.\d+\.\d+$",
        description="the Apache Kafka release the local broker runs (from Maven Central)",
        json_schema_extra=_section("Kafka"),
    )
    kafka_config_file: Path | None = Field(
        None,
        description="a librdkafka properties file (`key=value` lines) whose settings every Kafka client of every service takes"
        " (security settings of your own cluster, for example)",
        json_schema_extra={**_section("Kafka"), "default_text": "unset"},
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = Field(
        None,
        description="how every Kafka client reaches the cluster (librdkafka's `security.protocol`): `PLAINTEXT`,"
        " `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`",
        json_schema_extra={**_section("Kafka"), "default_text": "`PLAINTEXT` (or the config file's)"},
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        None,
        description="the SASL mechanism (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`); needs a `SASL_*` protocol",
        json_schema_extra={**_section("Kafka"), "default_text": "unset"},
    )
    kafka_sasl_username: str | None = Field(
        None,
        min_length=1,
        description="the SASL user every Kafka client of the process logs in as (the launcher sets one per service"
        " with `OMS_KAFKA_SASL=1`)",
        json_schema_extra={**_section("Kafka"), "default_text": "unset"},
    )
    kafka_sasl_password: SecretStr | None = Field(
        None,
        description="that user's password (never printed or logged)",
        json_schema_extra={**_section("Kafka"), "default_text": "unset"},
    )
    kafka_ssl_ca_location: FilePath | None = Field(
        None,
        description="a PEM file of the CA certificates that sign the brokers' (`SSL` and `SASL_SSL`)",
        json_schema_extra={**_section("Kafka"), "default_text": "unset: the system's CAs"},
    )
    kafka_sasl: bool = Field(
        False,
        description="`1`: the local broker serves SASL/SCRAM-SHA-512 with ACLs, and each service runs as its own"
        " user with least privilege (operators' admin client settings: `$OMS_DATA_DIR/kafka/admin.properties`)",
        json_schema_extra=_section("Kafka"),
    )
    kafka_fix_topic_configs: bool = Field(
        False,
        description="`1`: at start-up, fix the configs of existing topics that would lose events (retention, cleanup"
        " policy) on an existing cluster too, instead of refusing to start (always done on the local broker)",
        json_schema_extra=_section("Kafka"),
    )
    partitions: int = Field(
        3,
        ge=1,
        le=1000,
        description="partitions of every topic the platform creates",
        json_schema_extra=_section("Kafka"),
    )
    replication_factor: int | None = Field(
        None,
        ge=1,
        le=9,
        description="replication factor of those topics (min ISR is one less)",
        json_schema_extra={**_section("Kafka"), "default_text": "`OMS_BROKERS`, at most 3"},
    )
    namespace: Name = Field(
        "",
        description="prefix of every topic and consumer group (tests use one each)",
        json_schema_extra={**_section("Kafka"), "default_text": "empty"},
    )

    # Processors
    layout: Literal["combined", "separate"] = Field(
        "combined",
        description="`combined`: the order workflow's processors (checks, aggregator, routing, email join) run in one"
        " process, one consumer and one transaction per batch for all (`python -m pipeline`); `separate`: each in its own"
        " process (`python -m validators fraud`, ...), to deploy and scale on its own. The layouts keep separate"
        " consumer groups: choose one per namespace",
        json_schema_extra=_section("Processors"),
    )
    local_handoff: bool = Field(
        True,
        description="a processor's output that is also an input of the same process (a re-key, a check's answer, a"
        " verdict) is processed at once, in the same transaction, when that process owns its partition; it is still"
        " written to Kafka, and skipped when read back (docs/architecture.md). `0`: every hop goes through Kafka",
        json_schema_extra=_section("Processors"),
    )
    commit_interval_ms: int = Field(
        20,
        ge=0,
        le=10_000,
        description="how long a busy processor gathers a batch before committing its transaction: after a poll that"
        " brought 50 records or more, this long; after a smaller one, that share of it (under 2 ms: none, so a lone"
        " record goes through at once)",
        json_schema_extra=_section("Processors"),
    )
    max_batch: int = Field(
        5_000,
        ge=1,
        le=1_000_000,
        description="the most records one transaction takes (larger drains a backlog faster, at the cost of memory)",
        json_schema_extra=_section("Processors"),
    )
    validation_timeout_ms: Milliseconds = Field(
        30_000,
        description="how long the aggregator waits for a check before failing the order",
        json_schema_extra=_section("Processors"),
    )
    customer_grace_ms: Milliseconds = Field(
        5_000,
        description="how long an order waits for an unknown customer before it goes to `dead-letters`",
        json_schema_extra=_section("Processors"),
    )
    payment_window_ms: Milliseconds = Field(
        60_000,
        description="how far apart an order and its payment may be (either first) to join for the email",
        json_schema_extra=_section("Processors"),
    )

    # The front door
    grpc_port: PortOrAny = Field(
        50051, description="the front door: every public service on one address", json_schema_extra=_section("Gateway")
    )
    peer_port: PortOrAny | None = Field(
        None,
        description="base of the gateway instances' own ports (instance N listens on base + N), where peers forward"
        " calls; `0`: any free port",
        json_schema_extra={**_section("Gateway"), "default_text": "`OMS_GRPC_PORT` + 1"},
    )
    advertised_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="the host peers use to reach this gateway instance",
        json_schema_extra=_section("Gateway"),
    )
    max_calls: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="unary calls one gateway instance serves at once; past it a call is shed: `RESOURCE_EXHAUSTED` at"
        " once, with a `RetryInfo` (streams and health checks are not counted)",
        json_schema_extra=_section("Gateway"),
    )
    currency: str = Field(
        "EUR",
        pattern=r"^[A-Z]{3}$",
        description="the shop's currency (ISO 4217): prices are in it, and `RecordPayment` takes payments in it"
        " only (another is `INVALID_ARGUMENT`), so that what was paid adds up",
        json_schema_extra=_section("Gateway"),
    )
    page_token_key: SecretStr | None = Field(
        None,
        min_length=16,
        description="the key (16 characters or more) that signs `ListOrders` page tokens and `WatchOrders` resume"
        " tokens (HMAC-SHA256); every gateway instance must have the same one",
        json_schema_extra={
            **_section("Gateway"),
            "default_text": "a random key made once in `OMS_DATA_DIR`/gateway/page-token.key, shared by the"
            " instances of one data directory",
        },
    )

    # Gateway: exposure and limits
    grpc_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="the address the front door binds; `0.0.0.0` or `::` exposes it on every interface",
        json_schema_extra=_section("Gateway"),
    )
    peer_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="the address each gateway instance's own (peer) port binds",
        json_schema_extra=_section("Gateway"),
    )
    max_watches: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="open `WatchOrder` streams one gateway instance serves at once; past it `RESOURCE_EXHAUSTED`",
        json_schema_extra=_section("Gateway"),
    )
    max_request_bytes: int = Field(
        65536,
        ge=1024,
        le=64 * 1024 * 1024,
        description="the largest request message the gateway accepts (bytes); larger ones are `RESOURCE_EXHAUSTED`",
        json_schema_extra=_section("Gateway"),
    )
    max_concurrent_streams: int = Field(
        1000,
        ge=1,
        le=100_000,
        description="HTTP/2 streams (calls) one client connection may have open at once. Past it the transport refuses"
        " a call (`REFUSED_STREAM`: `UNAVAILABLE`, without details), so it is set as high as one instance admits"
        " `WatchOrder` streams (`OMS_MAX_WATCHES`): a client, or a peer forwarding calls, keeps one connection, and"
        " at 500 orders/s with a `WatchOrder` per order it holds hundreds of streams open on it. Load is shed by"
        " admission instead, with a `RESOURCE_EXHAUSTED` that says why",
        json_schema_extra=_section("Gateway"),
    )
    max_workflow_backlog: int = Field(
        1000,
        ge=1,
        le=100_000_000,
        description="`PlaceOrder` is shed (`RESOURCE_EXHAUSTED`, reason `WORKFLOW_BEHIND`, with a `RetryInfo`) while"
        " the order workflow (its consumer groups, the slowest counted) has more than this many records of `orders`"
        " yet to read, measured every 200 ms; reads, payments and other calls are not. Each order is about two"
        " records there (placed, then its verdict), so the default is some 500 orders waiting: a second or two of"
        " work at the few hundred orders/s two cores sustain. A workflow keeping up has far fewer in flight (a"
        " batch or two), so only one that is outpaced or stopped reaches it, before its latency runs into seconds",
        json_schema_extra=_section("Gateway"),
    )
    max_loop_lag_ms: int = Field(
        100,
        ge=1,
        le=60_000,
        description="unary calls are shed at once (`RESOURCE_EXHAUSTED`, reason `SATURATED`, with a `RetryInfo`)"
        " while the gateway instance's event loop runs this late (smoothed): every call it took on would wait behind"
        " the others, so those drain first. `WatchOrder` streams (up to `OMS_MAX_WATCHES`), health checks and"
        " reflection are not shed. An idle loop runs a millisecond or two late; 100 ms is well past a busy one's"
        " jitter, and still short of a client's usual deadline",
        json_schema_extra=_section("Gateway"),
    )

    # Security: TLS and tokens at the front door (docs/security.md)
    tls_cert: Path | None = Field(
        None,
        description="the gateway's certificate (PEM, with its chain); with `OMS_TLS_KEY`, turns TLS on for the front"
        " door and the peer ports, and peers are called over TLS",
        json_schema_extra={**_section("Security"), "default_text": "unset: plaintext"},
    )
    tls_key: Path | None = Field(
        None,
        description="the private key of `OMS_TLS_CERT` (PEM)",
        json_schema_extra={**_section("Security"), "default_text": "unset"},
    )
    tls_client_ca: Path | None = Field(
        None,
        description="CA certificates (PEM): the front door then requires a client certificate signed by one (mTLS)",
        json_schema_extra={**_section("Security"), "default_text": "unset: no client certificate asked"},
    )
    tls_peer_ca: Path | None = Field(
        None,
        description="the CA (PEM) that signs the gateway instances' certificates: the peer ports accept only clients"
        " with a certificate it signed, and peers are verified with it",
        json_schema_extra={**_section("Security"), "default_text": "the CA file of `OMS_TLS_CLIENT_CA`, else unset"},
    )
    auth_jwt_secret: str | None = Field(
        None,
        repr=False,
        description="HS256 key of the bearer tokens: turns authentication on (never logged)",
        json_schema_extra={**_section("Security"), "default_text": "unset"},
    )
    auth_jwt_public_key: Path | None = Field(
        None,
        description="PEM public key (RS256 or ES256) of the bearer tokens: turns authentication on",
        json_schema_extra={**_section("Security"), "default_text": "unset"},
    )
    auth_jwt_issuer: str | None = Field(
        None,
        description="when set, a token's `iss` must be this",
        json_schema_extra={**_section("Security"), "default_text": "unset: not checked"},
    )
    auth_jwt_audience: str | None = Field(
        None,
        description="when set, a token's `aud` must hold this",
        json_schema_extra={**_section("Security"), "default_text": "unset: not checked"},
    )

    # Email
    smtp_host: str | None = Field(
        None,
        description="the SMTP server confirmation emails go to",
        json_schema_extra={
            **_section("Email"),
            "default_text": "unset: `make run` starts a local mail sink that prints every email",
        },
    )
    smtp_port: Port | None = Field(
        None,
        description="its port (also the sink's port, when set without `OMS_SMTP_HOST`)",
        json_schema_extra={**_section("Email"), "default_text": "`25`; with the sink, any free port"},
    )
    mail_from: str = Field(
        "orders@oms.localhost",
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="the sender address of confirmation emails",
        json_schema_extra=_section("Email"),
    )

    # Console
    console_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="the address the web console binds (keep it local unless auth is on: without tokens anyone reaching it acts as an admin)",
        json_schema_extra=_section("Console"),
    )
    console_port: PortOrAny = Field(
        8080, description="the web console's port (`python -m console`)", json_schema_extra=_section("Console")
    )
    console_metrics: str = Field(
        "",
        description="comma-separated `http://host:port` of the services' metrics endpoints the console's live view reads",
        json_schema_extra={**_section("Console"), "default_text": "set by `make run`: every service's metrics port"},
    )

    # Processes
    data_dir: Path = Field(
        REPO_ROOT / ".oms-data",
        description="all local state: Kafka's logs and jars, LevelDB views and state stores",
        json_schema_extra={**_section("Processes"), "default_text": "`.oms-data` in the repo"},
    )
    instances: int = Field(
        1,
        ge=1,
        le=16,
        description="instances of every service (gateway, checks, aggregator, routing, email) that `make run` starts",
        json_schema_extra=_section("Processes"),
    )
    instance_id: Name = Field(
        "0",
        min_length=1,
        description="which instance this process is (set by the launcher for each child)",
        json_schema_extra=_section("Processes"),
    )
    metrics_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="the address every metrics endpoint binds",
        json_schema_extra=_section("Processes"),
    )
    metrics_port: PortOrAny = Field(
        9400,
        description="base of the services' metrics ports; `0`: any free port each (see operations.md)",
        json_schema_extra=_section("Processes"),
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        "INFO", description="log level of every service", json_schema_extra=_section("Processes")
    )
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object per log line", json_schema_extra=_section("Processes")
    )
    supervisor_pid: int | None = Field(
        None,
        ge=1,
        description="set by the launcher for its children, which exit when it dies",
        json_schema_extra={**_section("Processes"), "default_text": "unset"},
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        return value.strip().lower() if value.strip().lower() in ("text", "json") else value.strip().upper()

    @field_validator("kafka_bootstrap", "smtp_host", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("kafka_config_file")
    @classmethod
    def _readable_properties(cls, path: Path | None) -> Path | None:
        if path is not None:
            read_properties(path)  # fails here, at start-up, rather than in the first client
        return path

    @field_validator("tls_cert", "tls_key", "tls_client_ca", "tls_peer_ca", "auth_jwt_public_key")
    @classmethod
    def _readable_file(cls, path: Path | None) -> Path | None:
        if path is not None:
            try:
                path.read_bytes()
            except OSError as exc:
                raise ValueError(f"cannot read {path}: {exc.strerror}") from None
        return path

    @model_validator(mode="after")
    def _security_settings_agree(self) -> Config:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("OMS_TLS_CERT and OMS_TLS_KEY are set together or not at all")
        if self.tls_cert is None and (self.tls_client_ca or self.tls_peer_ca):
            raise ValueError("OMS_TLS_CLIENT_CA and OMS_TLS_PEER_CA need TLS on (OMS_TLS_CERT and OMS_TLS_KEY)")
        if self.auth_jwt_secret and self.auth_jwt_public_key:
            raise ValueError("set OMS_AUTH_JWT_SECRET (HS256) or OMS_AUTH_JWT_PUBLIC_KEY (RS256/ES256), not both")
        return self

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None

    @property
    def peer_ca(self) -> Path | None:
        """The CA that signs the gateway instances' certificates."""
        return self.tls_peer_ca or self.tls_client_ca

    @property
    def auth(self) -> bool:
        return bool(self.auth_jwt_secret) or self.auth_jwt_public_key is not None

    @field_validator("kafka_security_protocol", "kafka_sasl_mechanism", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _kafka_security_fits_together(self) -> Config:
        # On the merged client properties, so a config file may supply a part.
        problems = security_problems(self.kafka_properties)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments win over the environment; no dotenv or secrets files.
        return init_settings, _Environment(settings_cls)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        """The configuration from an environment (os.environ unless given),
        with overrides by field name. Raises ConfigError."""
        token = _environ.set(environ)
        try:
            return cls(**overrides)
        except ValidationError as error:
            raise ConfigError(_explain(error, environ)) from None
        finally:
            _environ.reset(token)

    # Derived values

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    @property
    def topic_replication_factor(self) -> int:
        """A local cluster of N brokers replicates everything N ways (up to 3)."""
        return self.replication_factor or min(3, self.brokers)

    @property
    def instance_number(self) -> int:
        """The instance id as a number (0 for a non-numeric id)."""
        return int(self.instance_id) if self.instance_id.isdigit() else 0

    @property
    def own_peer_port(self) -> int:
        """Where peers reach this gateway instance. It must not change across
        restarts: peers learn it from the view group, whose static members
        keep the address they first joined with."""
        base = self.grpc_port + 1 if self.peer_port is None else self.peer_port
        if base == 0 or (self.peer_port is None and self.grpc_port == 0):
            return 0  # any free port
        return base + self.instance_number

    @property
    def kafka_properties(self) -> dict[str, str]:
        """What every Kafka client takes on top of its own settings: the
        config file's properties, overridden by the OMS_KAFKA_* security
        variables that are set."""
        properties = read_properties(self.kafka_config_file) if self.kafka_config_file else {}
        for key, value in (
            ("security.protocol", self.kafka_security_protocol),
            ("sasl.mechanism", self.kafka_sasl_mechanism),
            ("sasl.username", self.kafka_sasl_username),
            ("sasl.password", self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None),
            ("ssl.ca.location", str(self.kafka_ssl_ca_location) if self.kafka_ssl_ca_location else None),
        ):
            if value is not None:
                properties[key] = value
        return properties

    @property
    def kafka(self) -> Connection:
        """How every Kafka client of the process reaches the cluster."""
        return Connection(self.bootstrap_servers, self.kafka_properties)

    def topic(self, name: str) -> str:
        return f"{self.namespace}{name}"


class ConfigError(ValueError):
    """A setting has a value that is not accepted; the message says which."""


SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")


def security_problems(properties: Mapping[str, str]) -> list[str]:
    """What does not fit together in a client's security properties (the
    config file's merged with the OMS_KAFKA_* variables), in words that name
    the variables; never a secret's value."""
    protocol = properties.get("security.protocol", "PLAINTEXT").upper()
    mechanism = properties.get("sasl.mechanism")
    user, password = properties.get("sasl.username"), properties.get("sasl.password")
    problems = []
    if protocol in SASL_PROTOCOLS:
        if mechanism is None:
            problems.append(
                f"security protocol {protocol} needs OMS_KAFKA_SASL_MECHANISM (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            )
        if mechanism is not None and mechanism.upper() != "GSSAPI" and (user is None or password is None):
            problems.append(
                f"SASL mechanism {mechanism} needs both OMS_KAFKA_SASL_USERNAME and OMS_KAFKA_SASL_PASSWORD"
            )
    else:
        if mechanism is not None:
            problems.append(
                f"SASL mechanism {mechanism} needs OMS_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL, not {protocol}"
            )
        elif user is not None or password is not None:
            problems.append(
                f"a SASL user or password needs OMS_KAFKA_SECURITY_PROTOCOL=SASL_PLAINTEXT or SASL_SSL, not {protocol}"
            )
    if "ssl.ca.location" in properties and protocol not in TLS_PROTOCOLS:
        problems.append(f"OMS_KAFKA_SSL_CA_LOCATION needs OMS_KAFKA_SECURITY_PROTOCOL=SSL or SASL_SSL, not {protocol}")
    return problems


def read_properties(path: Path) -> dict[str, str]:
    """A Java/librdkafka properties file: `key=value` lines, `#` comments."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    properties = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{path}:{number}: expected key=value, got {line!r}")
        properties[key.strip()] = value.strip()
    return properties


# Fields whose values are never shown, not even in an error.
SECRETS = frozenset({"kafka_sasl_password"})


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _explain(error: ValidationError, environ: Mapping[str, str] | None) -> str:
    source = os.environ if environ is None else environ
    lines = []
    for problem in error.errors():
        accepted = problem["msg"].removeprefix("Value error, ")
        if not problem["loc"]:  # settings that do not fit together; the message names them
            lines.append(accepted)
            continue
        field = str(problem["loc"][0])
        name = env_name(field)
        if problem["type"] == "extra_forbidden":
            lines.append(f"{field}: not a setting of oms")
            continue
        value = "<secret>" if field in SECRETS else source.get(name, problem.get("input"))
        lines.append(f"{name}={value!r} is not accepted: {accepted}")
    return "; ".join(lines)


def load_or_exit(environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """The configuration, or exit with EX_CONFIG and the reason on stderr."""
    try:
        return Config.load(environ, **overrides)
    except ConfigError as error:
        print(f"oms: configuration error: {error}", file=sys.stderr, flush=True)
        raise SystemExit(EX_CONFIG) from None


def reference() -> str:
    """The Markdown reference of every variable, grouped by section."""
    sections: dict[str, list[str]] = {}
    for field, info in Config.model_fields.items():
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        default = extra.get("default_text") or f"`{info.default}`"
        row = f"| `{env_name(field)}` | {default} | {info.description} |"
        sections.setdefault(str(extra.get("section", "Other")), []).append(row)
    parts = [
        "# Configuration",
        "",
        "Every setting is an environment variable, read once by each process",
        "into one typed model (`topology/config.py`). A value that is not accepted",
        "stops the process with a message naming the variable, the value and what",
        "is accepted, and exit status 78, which the launcher does not restart.",
        "This page is generated: `python -m topology.config > docs/configuration.md`.",
    ]
    for section, rows in sections.items():
        parts += ["", f"## {section}", "", "| variable | default | what it sets |", "|---|---|---|", *rows]
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.stdout.write(reference())
