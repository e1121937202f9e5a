"""A client's socket messages come from that client's socket, and malformed ones are dropped with a warning.

NiceGUI 3.18 finds the client a socket message is for by the `client_id` field *in the message*, not by the
socket it arrived on: anyone who learns a page's client id (a uuid4 the app never shows another user, but still)
could click that page's buttons or send its `vc_signal`s from their own socket, i.e. act as its user. NiceGUI's
handlers also index the message blindly, so a malformed frame raised a KeyError with a traceback in the log, and
the `log` message wrote any text at any level (newlines included) into the server log.

`install` wraps NiceGUI's socket handlers: `event`, `javascript_response`, `ack` and `log` are accepted only for
the client whose handshake this socket made (NiceGUI puts the socket in a room named after that client); a
malformed message is dropped; a `log` from the browser is logged as one quoted, bounded line naming its user, at
most `BROWSER_LOGS_PER_MINUTE` per page (then one line a minute says how many were dropped).

Still needed upstream while `test_without_the_guard_nicegui_lets_the_forged_click_through`
(tests/web/test_socket_guard.py) passes.
"""

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import Client, core

from voiceconnect.backend import Backend
from voiceconnect.ratelimit import RateLimiter

from ..core import backend
from ..tabs import tab_of

log = logging.getLogger('voiceconnect')
GONE = 'for a page that no longer exists'
MAX_LOGGED = 300  # characters of a browser's log message that reach the server log

Handler = Callable[[str, Any], Any]
REQUIRED: dict[str, tuple[str, ...]] = {
    'event': ('id', 'listener_id'),
    'javascript_response': ('request_id',),
    'ack': ('next_message_id',),
    'log': ('message',),
}


def install() -> None:
    handlers = core.sio.handlers['/']
    if getattr(handlers['event'], 'guarded', False):
        return  # installed already (the app is built once per process, tests may build it again)
    for name in ('event', 'javascript_response', 'ack'):
        handlers[name] = _own_client_only(name, handlers[name])
    handlers['log'] = _own_client_only('log', _browser_log)
    handlers['handshake'] = _well_formed_handshake(handlers['handshake'])


def _own_client_only(name: str, handler: Handler) -> Handler:
    def guarded(sid: str, msg: Any = None, *_: Any) -> Any:
        problem = _problem(sid, name, msg)
        if problem == GONE:  # e.g. a page from before a server restart, about to reload: NiceGUI ignores it too
            return None
        if problem is not None:
            log.warning('⚠️ Rejected socket message from %s: %s %s', who(sid), name, problem)
            return None
        try:
            return handler(sid, msg)
        except Exception as error:  # NiceGUI's parsing of a frame a browser would never send
            log.warning('⚠️ Rejected socket message from %s: malformed %s (%s)', who(sid), name, type(error).__name__)
            return None

    guarded.guarded = True  # type: ignore[attr-defined]
    return guarded


def _problem(sid: str, name: str, msg: Any) -> str | None:
    if not isinstance(msg, dict) or not isinstance(msg.get('client_id'), str):
        return 'without a client id'
    if msg['client_id'] not in Client.instances:
        return GONE
    if msg['client_id'] not in _rooms(sid):
        return 'for another page'
    if missing := [key for key in REQUIRED[name] if key not in msg]:
        return f'without {", ".join(missing)}'
    return None


_log_limits: dict[Backend, RateLimiter[str]] = {}  # per page (client id), on the backend's clock


def _browser_logs() -> RateLimiter[str]:
    current = backend()
    if current not in _log_limits:
        _log_limits.clear()  # tests build the app again: the limiter goes with the backend
        _log_limits[current] = RateLimiter(current.settings.browser_logs_per_minute, 60.0, current.switchboard.clock)
    return _log_limits[current]


def _browser_log(sid: str, msg: dict[str, Any]) -> None:
    """NiceGUI's browser side logs only 'message too long'; whatever a browser says is quoted and bounded."""
    if (limited := _browser_logs().hit(msg['client_id'])) is not None:
        if limited.report:
            log.warning(
                '⚠️ Rate limited: browser log messages from %s (%d dropped, retry in %s; reported once a minute)',
                who(sid),
                limited.refused,
                limited.wait,
            )
        return
    text = repr(str(msg['message'])[:MAX_LOGGED])
    log.warning('🌐 Browser of %s says: %s', who(sid), text)


def _well_formed_handshake(handler: Callable[[str, Any], Awaitable[bool]]) -> Callable[[str, Any], Awaitable[bool]]:
    async def guarded(sid: str, data: Any = None, *_: Any) -> bool:
        if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ('client_id', 'tab_id')):
            log.warning('⚠️ Rejected socket message from %s: malformed handshake', who(sid))
            return False
        return await handler(sid, data)

    return guarded


def _rooms(sid: str) -> list[str]:
    try:
        return list(core.sio.rooms(sid))
    except Exception:  # a socket that is already gone has no rooms
        return []


def who(sid: str) -> str:
    """The user on this socket's page, for the log (a socket before its handshake has none)."""
    for room in _rooms(sid):  # the page's client id
        if room in Client.instances and (tab := tab_of(room)) is not None and tab.device is not None:
            return tab.device.user
    return 'a socket with no signed-in page'
