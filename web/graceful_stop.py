"""SIGTERM and Ctrl-C: the calls end and both sides are told while their sockets are still open.

uvicorn answers SIGTERM by closing every connection (the tabs' sockets included) and only then runs the app's
shutdown handlers, where the backend stops; a call ended there reaches nobody, and the tabs sit at
"Reconnecting…" until the server is back. So the signal handler uvicorn installed is wrapped: with calls that
live only in this process, they end `server_restart` first, the news gets a moment to leave, then uvicorn's
handler runs as before. With Redis the calls go on (other processes carry them), and nothing changes.
"""

import asyncio
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from voiceconnect.backend import Backend

FLUSH_S = 0.3  # NiceGUI's outbox sends every few ms; this leaves room for a busy loop
SIGNALS = (signal.SIGTERM, signal.SIGINT)


def install(backend: Backend) -> None:
    """Call at start-up, when uvicorn's handlers are in place (not in tests without a server: nothing to wrap)."""
    loop = asyncio.get_running_loop()
    for number in SIGNALS:
        previous = signal.getsignal(number)
        if callable(previous) and _is_uvicorns(previous):
            signal.signal(number, _ending_calls_first(backend, loop, previous))


def _is_uvicorns(handler: Callable[..., Any]) -> bool:
    """uvicorn's `Server.handle_exit` (NiceGUI runs a subclass; a test run's handlers, e.g. pytest's, are left
    alone)."""
    return isinstance(getattr(handler, '__self__', None), uvicorn.Server)


def _ending_calls_first(
    backend: Backend, loop: asyncio.AbstractEventLoop, previous: Callable[[int, FrameType | None], Any]
) -> Callable[[int, FrameType | None], None]:
    def handler(number: int, frame: FrameType | None) -> None:
        if backend.shared or not backend.ready or backend.switchboard.calls.calls == {}:
            previous(number, frame)
            return

        async def end_calls_then_stop() -> None:
            try:
                await backend.switchboard.shutdown()
                await asyncio.sleep(FLUSH_S)
            finally:
                previous(number, frame)

        loop.create_task(end_calls_then_stop())

    return handler
