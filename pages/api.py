"""The API for Python page authors: add a call-aware page to VoiceConnect in a few lines.

    from nicegui import ui
    from pages import api

    @api.page('/status')
    async def status() -> None:
        me = await api.connection()  # this tab's handle on its user's connection (None if signed out)
        ...
        api.subscribe(me, api.CallChanged, handler)  # for as long as the page is shown

`connection()` returns a `voiceconnect.connection.Device`: `.user`, `.online_users()`, `.call` (a `CallView` or
None), `.on(event, handler)`, and the actions `.call_user(name)`, `.accept(id)`, `.decline(id)`,
`.hang_up(id)`, `.set_muted(id, muted)` (each raises `CallError` with a message for the person). Pages are
sub pages of the SPA root, so the connection, a ringing dialog and a running call survive moving to them.
"""

from collections.abc import Callable
from typing import Any

from voiceconnect.calls import CallError, CallState, EndReason
from voiceconnect.connection import Device
from voiceconnect.events import CallChanged, CallView, OnlineUser, PresenceChanged, SignedOut

from .tab import current_device as connection
from .tab import subscribe

routes: dict[str, Callable[..., Any]] = {}


def page(path: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a sub page at `path` (e.g. '/status' or '/people/{name}'); import the module before ui.run."""

    def register(builder: Callable[..., Any]) -> Callable[..., Any]:
        routes[path] = builder
        return builder

    return register


__all__ = [
    'CallChanged',
    'CallError',
    'CallState',
    'CallView',
    'Device',
    'EndReason',
    'OnlineUser',
    'PresenceChanged',
    'SignedOut',
    'connection',
    'page',
    'routes',
    'subscribe',
]
