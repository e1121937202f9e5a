"""The API for Python page authors: add a call-aware page to VoiceConnect in a few lines.

    from nicegui import ui
    from pages import api

    @api.page('/status')
    async def status() -> None:
        me = await api.connection()  # this tab's handle on its user's connection (None if signed out)
        ...
        api.subscribe(me, api.CallChanged, handler)  # for as long as the page is shown

`connection()` returns a `voiceconnect.connections.device.Device`: `.user`, `.online_users()`, `.call` (a `CallView` or
None), `.now()`, `.on(event, handler)`, `await .past_call(id)`, and the actions `await .call_user(name)`,
`await .accept(id)`, `await .decline(id)`, `await .hang_up(id)`, `await .set_muted(id, muted)` (each raises
`CallError` with a message for the person; `api.attempt(action)` shows it instead). Pages are sub pages of the
SPA root, so the connection, a ringing dialog and a running call survive moving to them.
"""

from collections.abc import Callable
from typing import Any

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, OnlineUser, PresenceChanged, SignedOut
from web.tabs import current_device as connection
from web.tabs import subscribe

from .actions import attempt

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
    'attempt',
    'connection',
    'page',
    'routes',
    'subscribe',
]
