"""Small asyncio helpers shared by the long-running services."""
from __future__ import annotations

import asyncio


async def cancel_and_wait(*tasks: asyncio.Future | None) -> None:
    """Cancel every given task (None is skipped), then wait until each has finished.

    Used on stop paths: whatever a task died of was already logged by the task itself, and
    stopping must not be interrupted by it, so its CancelledError or exception is swallowed.
    """
    live = [t for t in tasks if t is not None]
    for task in live:
        task.cancel()
    for task in live:
        try:
            await task
        except (asyncio.CancelledError, Exception):  # noqa: BLE001 - see docstring
            pass
