"""What the core tells observers (the metrics) as things happen, without knowing who listens.

The core calls `notify(event, **fields)` at the points it already logs or counts: a call rang, a call ended, a
signaling message came in, a limit refused something, a sign-in failed. The web layer's metrics subscribe with
`listen`; the core never imports a metrics library. Process-wide, like the loggers: one app per process.
A listener that raises is logged and skipped: observing never breaks what is observed.
"""

import logging
from collections.abc import Callable
from typing import Any, Literal

log = logging.getLogger('voiceconnect')

Happening = Literal[
    'call_rang',  # seconds: from the caller's request to the ring handed out for delivery (server side)
    'call_ended',  # outcome: the end reason; duration_s: talk time, None if never answered
    'signal',  # result: accepted, rejected or dropped (rate limited)
    'rate_limited',  # limit: calls, signals, sign_in, sign_up
    'sign_in_failed',
    'group_join',  # outcome: how an invitation into a group call ended (joined, declined, missed, busy, …)
]
Listener = Callable[[Happening, dict[str, Any]], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Subscribe; returns the unsubscribe function."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener) if listener in _listeners else None


def notify(happening: Happening, **fields: Any) -> None:
    for listener in tuple(_listeners):
        try:
            listener(happening, fields)
        except Exception:
            log.exception('an observer failed on %s', happening)
