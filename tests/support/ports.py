from __future__ import annotations

import random
import socket

# Ports handed out by this process. A block is only checked by binding and
# letting go; until its services bind it, it looks free to the next call.
_handed_out: set[int] = set()


def _free(port: int) -> bool:
    if port in _handed_out:
        return False
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
    """The first port of `size` consecutive free ports, never one this
    process handed out before (a broker needs two each; a platform its front
    door, peer ports and metrics ports).

    The search starts at a random place, so that concurrent test sessions
    (which share the data directory, keyed by port) rarely meet."""
    start = random.randrange(20000, 30000)
    for port in range(start, 60000, size):
        block = range(port, port + size)
        if all(_free(p) for p in block):
            _handed_out.update(block)
            return port
    raise RuntimeError("no free port block")
