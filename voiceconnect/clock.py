"""Time for the core: the event loop in production, a fake clock in tests. Everything in `voiceconnect/` that
reads the time or waits for it goes through a `Clock`, so a test can move time on at will.

A timer's callback may be a coroutine function: its coroutine runs to the end before the fake clock moves on,
and as a task of its own on the event loop.
"""

import asyncio
import heapq
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger('voiceconnect')

Callback = Callable[[], Awaitable[None] | None]


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def call_later(self, delay: float, callback: Callback) -> Timer: ...


_running: set['asyncio.Task[None]'] = set()  # the loop keeps only weak references to tasks


async def _log_failure(awaitable: Awaitable[None]) -> None:
    try:
        await awaitable
    except Exception:
        log.exception('a timer of the core failed')


def _fire(callback: Callback) -> None:
    result = callback()
    if inspect.isawaitable(result):
        task = asyncio.ensure_future(_log_failure(result))
        _running.add(task)
        task.add_done_callback(_running.discard)


class LoopClock:
    """Wall-clock seconds; timers run on the running asyncio loop."""

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callback) -> Timer:
        return asyncio.get_running_loop().call_later(delay, _fire, callback)


class SharedClock(LoopClock):
    """The wall clock of several processes that must agree on it (leases and call deadlines in Redis): this
    machine's clock plus an offset, which the owner of the shared state sets from the shared clock (Redis's
    `TIME`) as often as it likes. Until it is set it is this machine's clock. Timers still run on the loop's
    monotonic clock: only what `now()` says moves."""

    def __init__(self) -> None:
        self.offset = 0.0  # seconds to add to this machine's clock

    def now(self) -> float:
        return time.time() + self.offset


class FakeTimer:
    def __init__(self) -> None:
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that only moves when a test calls `advance`."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start
        self._timers: list[tuple[float, int, FakeTimer, Callback]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callback) -> Timer:
        timer = FakeTimer()
        heapq.heappush(self._timers, (self._now + delay, next(self._order), timer, callback))
        return timer

    async def advance(self, seconds: float) -> None:
        """Move time on, running every timer that falls due on the way, in order, each to its end."""
        until = self._now + seconds
        while self._timers and self._timers[0][0] <= until:
            due, _, timer, callback = heapq.heappop(self._timers)
            self._now = due
            if not timer.cancelled:
                result = callback()
                if inspect.isawaitable(result):
                    await result
        self._now = until
