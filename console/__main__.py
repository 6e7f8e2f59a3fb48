"""python -m console: the web console on OMS_CONSOLE_HOST:OMS_CONSOLE_PORT
(default 127.0.0.1:8080), a client of the front door at OMS_GRPC_PORT."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import sys

import grpc
import uvicorn

from console.app import ConsoleSettings, create_app
from topology.config import EX_CONFIG, Config, load_or_exit

log = logging.getLogger("console")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def front_door(settings: Config) -> str:
    """The front door as a local client reaches it (its certificate names localhost)."""
    host = "localhost" if settings.grpc_host in ("0.0.0.0", "::", "127.0.0.1") else settings.grpc_host
    return f"{host}:{settings.grpc_port}"


def credentials(settings: Config) -> grpc.ChannelCredentials | None:
    """With TLS on, the console calls as the platform's own processes do:
    verifying the front door against its CA, with the instance certificate
    (the front door may ask for a client certificate)."""
    if not settings.tls:
        return None
    assert settings.tls_cert is not None and settings.tls_key is not None
    return grpc.ssl_channel_credentials(
        root_certificates=settings.peer_ca.read_bytes() if settings.peer_ca else None,
        private_key=settings.tls_key.read_bytes(),
        certificate_chain=settings.tls_cert.read_bytes(),
    )


def console_settings(settings: Config) -> ConsoleSettings:
    urls = [url.strip() for url in settings.console_metrics.split(",") if url.strip()]
    return ConsoleSettings(
        target=front_door(settings), auth=settings.auth, credentials=credentials(settings), metrics_urls=urls
    )


async def _die_with_supervisor(supervisor_pid: int) -> None:
    while os.getppid() == supervisor_pid:
        await asyncio.sleep(1.0)
    log.error("the launcher is gone: stopping")
    os._exit(1)


def main() -> int:
    settings = load_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s console %(levelname)s %(message)s")
    if not settings.auth and not is_loopback(settings.console_host):
        print(
            f"console: OMS_CONSOLE_HOST={settings.console_host} without auth would let anyone reaching it act as"
            " an admin; serve on a loopback address, or turn auth on (OMS_AUTH_JWT_SECRET or OMS_AUTH_JWT_PUBLIC_KEY)",
            file=sys.stderr,
        )
        return EX_CONFIG
    app = create_app(console_settings(settings))
    config = uvicorn.Config(
        app,
        host=settings.console_host,
        port=settings.console_port,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        watch = asyncio.create_task(_die_with_supervisor(settings.supervisor_pid)) if settings.supervisor_pid else None
        log.info("the console serves at http://%s:%d", settings.console_host, settings.console_port)
        await server.serve()
        if watch is not None:
            watch.cancel()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
