"""A page's client belongs to the browser session that loaded it: a socket handshaking for it must carry the same
session cookie.

NiceGUI 3.18 lets any socket handshake for any client whose id (and pinned tab id) it presents, whatever session
cookie it carries: `Client.accept_handshake` checks the socket id, the client id in the connect URL and the tab
id, never who is asking. The handshake also rides on the connect URL (`implicit_handshake=true`), and NiceGUI's
connect handler calls its handshake function directly, past any wrapper of the `handshake` event
(socket_guard's). A socket that got in joins the client's room, receives that page's updates, and socket_guard
then takes its events as the page's own.

`install` wraps `Client.accept_handshake`, the one check both ways pass through: the socket's session (the
browser id in its signed cookie, decoded by the session middleware) must be the one of the request that built the
page (moved on by the page's own sign-in), or a successor after a sign-in or Log out in another of the browser's
tabs gave it a new id (browser_session.successors). Anything else is
refused and logged. NiceGUI's simulated `User` has no socket environ and is not checked.

Still needed upstream while `test_without_the_binding_nicegui_accepts_another_sessions_handshake`
(tests/web/test_nicegui_fixes.py) passes.
"""

import logging
from collections.abc import Callable, Mapping
from typing import Any

from nicegui import Client

from . import browser_session

log = logging.getLogger('voiceconnect')
AcceptHandshake = Callable[[Client, str, str, dict[str, Any] | None], bool]
upstream: AcceptHandshake = Client.accept_handshake  # NiceGUI's own check, for the test that it is still needed


def install() -> None:
    original: AcceptHandshake = Client.accept_handshake
    if getattr(original, 'session_bound', False):
        return

    def accept_handshake(client: Client, socket_id: str, tab_id: str, environ: dict[str, Any] | None) -> bool:
        if environ is not None and not same_session(client, environ):
            log.warning('⚠️ Rejected socket handshake: a socket of another browser session for page %s', client.id)
            return False
        return original(client, socket_id, tab_id, environ)

    accept_handshake.session_bound = True  # type: ignore[attr-defined]
    Client.accept_handshake = accept_handshake  # type: ignore[method-assign,assignment]


def same_session(client: Client, environ: Mapping[str, Any]) -> bool:
    page = browser_session.page_browser_id(client)
    socket = socket_browser_id(environ)
    if page is None or socket is None:
        return False
    return socket in browser_session.successors(page)


def socket_browser_id(environ: Mapping[str, Any]) -> str | None:
    scope = environ.get('asgi.scope')
    session = scope.get('session') if isinstance(scope, dict) else None
    found = session.get('id') if isinstance(session, dict) else None
    return found if isinstance(found, str) else None
