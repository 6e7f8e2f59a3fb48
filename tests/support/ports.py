from __future__ import annotations

import random
import socket


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(size: int) -> int:
    """The first port of `size` consecutive free ports (a broker needs two each).

    The search starts at a random place, so that concurrent test sessions
    (which share the data directory, keyed by port) rarely meet."""
    start = random.randrange(20000, 30000)
    for port in range(start, 60000, size):
        if all(_free(p) for p in range(port, port + size)):
            return port
    raise RuntimeError("no free port block")
