"""Command line: ``python -m localkafka install|run``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from . import settings
from .cluster import ExternalKafka, KafkaCluster, KafkaStartError
from .distribution import KafkaInstallError, install, installed


def main(argv: list[str] | None = None) -> int:
    # Shared options, accepted after either subcommand ("run --data-dir X").
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"state folder (default ${settings.ENV_DATA_DIR} or <repo>/.oms-data)",
    )
    common.add_argument(
        "--kafka-version",
        default=None,
        help=f"Kafka version (default ${settings.ENV_VERSION} or {settings.KAFKA_VERSION})",
    )
    common.add_argument("-v", "--verbose", action="store_true")

    parser = argparse.ArgumentParser(
        prog="python -m localkafka", description="Install and run a local Apache Kafka (KRaft)."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    install_cmd = commands.add_parser("install", parents=[common], help="fetch the Kafka jars into the cache")
    install_cmd.add_argument("--force", action="store_true", help="fetch even if cached")
    run_cmd = commands.add_parser("run", parents=[common], help="run Kafka in the foreground until Ctrl-C/SIGTERM")
    run_cmd.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"first broker port (default ${settings.ENV_PORT} or {settings.DEFAULT_PORT})",
    )
    run_cmd.add_argument(
        "--brokers",
        type=int,
        default=None,
        help=f"number of broker+controller nodes (default ${settings.ENV_BROKERS} or 1)",
    )
    run_cmd.add_argument("--partitions", type=int, default=1, help="num.partitions (default 1)")
    run_cmd.add_argument(
        "--keep-data",
        action="store_true",
        help="keep topics from the previous run",
    )

    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    # librdkafka's own chatter (reconnects during shutdown) is noise here.
    logging.getLogger("localkafka.client").setLevel(logging.ERROR)
    try:
        if args.command == "install":
            return _install(args)
        return _run(args)
    except (KafkaInstallError, KafkaStartError) as error:
        print(f"localkafka: {error}", file=sys.stderr)
        return 1


def _install(args: argparse.Namespace) -> int:
    cached = installed(args.kafka_version, args.data_dir) is not None
    started = time.monotonic()
    dist = install(args.kafka_version, args.data_dir, force=args.force)
    elapsed = time.monotonic() - started
    how = "already cached" if cached and not args.force else f"fetched in {elapsed:.1f}s"
    print(f"Kafka {dist.version} {how}: {dist.libs_dir}")
    return 0


def _run(args: argparse.Namespace) -> int:
    external = settings.external_bootstrap()
    if external is not None:
        print(
            f"{settings.ENV_BOOTSTRAP} is set: using {ExternalKafka(external).bootstrap_servers}, "
            "not starting a broker",
            file=sys.stderr,
        )
        return 0

    stop_requested = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        if stop_requested.is_set():
            return  # already stopping; the stop itself is bounded by a timeout
        stop_requested.set()
        # Abort a start() still in progress; once running we just wake up.
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    cluster = KafkaCluster(
        brokers=args.brokers,
        port=args.port,
        data_dir=args.data_dir,
        num_partitions=args.partitions,
        version=args.kafka_version,
        fresh=not args.keep_data,
    )
    exit_code = 0
    try:
        cluster.start()
        print(f"{settings.ENV_BOOTSTRAP}={cluster.bootstrap_servers}", flush=True)
        print(
            f"Kafka {cluster.version} running; logs under {cluster.home}. Ctrl-C to stop.", file=sys.stderr, flush=True
        )
        while not stop_requested.wait(1.0):
            dead = [node for node in cluster.nodes if node.has_crashed]
            if dead:
                for node in dead:
                    print(node.log_tail(), file=sys.stderr)
                print("localkafka: a Kafka node exited on its own", file=sys.stderr)
                exit_code = 1
                break
    except KeyboardInterrupt:
        pass
    finally:
        # No more interruptions: a half-done stop would leave a JVM behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if cluster.is_running:
            print("stopping Kafka...", file=sys.stderr, flush=True)
            cluster.stop()
            print("Kafka stopped", file=sys.stderr, flush=True)
        else:
            cluster.stop()  # reaps a crashed node's process handle
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
