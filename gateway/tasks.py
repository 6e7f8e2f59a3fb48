"""Work that must finish even when the call that started it is cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import TypeVar

T = TypeVar("T")


async def outlive_cancellation(work: Coroutine[object, object, T]) -> T:
    """Runs work as a task of its own and awaits it. If the caller is
    cancelled (a client's deadline), the task still runs to its end; its
    outcome, unread by anyone, is consumed so asyncio does not report it."""
    task = asyncio.ensure_future(work)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return await asyncio.shield(task)
