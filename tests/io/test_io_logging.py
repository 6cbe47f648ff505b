"""Deferred log writing: records leave at the end of the loop iteration, in order, none lost."""
from __future__ import annotations

import asyncio
import io
import logging

from kvrrp.logging_setup import DeferredHandler


def _setup() -> tuple[logging.Logger, io.StringIO, DeferredHandler]:
    out = io.StringIO()
    target = logging.StreamHandler(out)
    target.setFormatter(logging.Formatter("%(message)s"))
    handler = DeferredHandler(target)
    logger = logging.getLogger("kvrrp.test-deferred")
    logger.handlers = [handler]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    return logger, out, handler


def test_inside_a_loop_records_wait_for_the_next_iteration() -> None:
    logger, out, _handler = _setup()

    async def scenario() -> tuple[str, str]:
        logger.info("one")
        logger.info("two")
        during = out.getvalue()
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return during, out.getvalue()

    during, after = asyncio.run(scenario())
    assert during == ""
    assert after == "one\ntwo\n"


def test_outside_a_loop_and_on_shutdown_nothing_is_lost() -> None:
    logger, out, handler = _setup()
    logger.info("now")
    assert out.getvalue() == "now\n"

    async def scenario() -> None:
        logger.info("late")

    asyncio.run(scenario())  # the loop ends before its next iteration ran the flush... or not
    handler.flush()          # logging.shutdown() flushes every handler at exit
    assert out.getvalue() == "now\nlate\n"


def test_a_burst_is_written_in_bounded_chunks_in_order() -> None:
    logger, out, handler = _setup()
    limit = DeferredHandler.MAX_PENDING

    async def scenario() -> tuple[int, int, str]:
        for i in range(2 * limit + 3):
            logger.info("line %d", i)
        during = out.getvalue().count("\n")
        waiting = len(handler._pending)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return during, waiting, out.getvalue()

    during, waiting, after = asyncio.run(scenario())
    assert (during, waiting) == (2 * limit, 3)     # never more than MAX_PENDING records held
    assert after == "".join(f"line {i}\n" for i in range(2 * limit + 3))
